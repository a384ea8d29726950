"""The resumable batch job: same results as predict(), bad records reported, resumes without rescoring."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inference import load_classifier
from inference.batch import JobError, JobOptions, main, model_fingerprint, parts_dir, run_job
from inference.export import export_onnx
from tests.conftest import ROOT
from training.fast_path import QUANTIZATION

VOA = ROOT.parent / "shared" / "data" / "voa_stories.jsonl"


def real_sentences(corpus: Path, count: int) -> list[dict]:
    """The first ``count`` sentences of the built corpus (real news text, read at run time)."""
    with open(corpus, encoding="utf-8") as handle:
        rows = [json.loads(line) for line, _ in zip(handle, range(count))]
    return [{"id": row["id"], "text": row["text"]} for row in rows]


def write_jsonl(path: Path, rows: list[dict], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + extra, encoding="utf-8")
    return path


def test_sentences_match_predict_and_bad_lines_are_reported(tiny_classifier, built_corpus, tmp_path, capsys):
    rows = real_sentences(built_corpus, 40)
    source = write_jsonl(tmp_path / "in.jsonl", rows[:20], '{broken\n\n{"text": 5}\n')
    with open(source, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(row) + "\n" for row in rows[20:]))
    summary = run_job(tiny_classifier, "tiny", source, tmp_path / "out.jsonl", JobOptions(chunk_size=100))
    err = capsys.readouterr().err
    assert (summary.records, summary.bad, summary.chunks) == (40, 2, 1)
    assert f"{source}:21: malformed JSON" in err and f"{source}:23: expected an object" in err
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    expected = tiny_classifier.predict([row["text"] for row in rows])
    assert [r["id"] for r in out] == [row["id"] for row in rows]
    assert [r["line"] for r in out] == list(range(1, 21)) + list(range(24, 44))
    assert [(r["labels"], r["scores"]) for r in out] == [(list(p.labels), p.scores) for p in expected]
    assert not parts_dir(tmp_path / "out.jsonl").exists()  # the sidecar goes once the output is in place


def test_parquet_documents_match_classify_document(tiny_classifier, tiny_model_dir, tmp_path, capsys):
    with open(VOA, encoding="utf-8") as handle:
        articles = [json.loads(line) for line, _ in zip(handle, range(3))]
    table = pa.table({"id": [a["id"] for a in articles] + ["empty"], "text": [a["text"] for a in articles] + [None]})
    pq.write_table(table, tmp_path / "in.parquet")
    code = main(["--model", str(tiny_model_dir), "--input", str(tmp_path / "in.parquet"),
                 "--output", str(tmp_path / "out.parquet"), "--documents", "--chunk-size", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "in.parquet:4: 'text' is NoneType, not a string" in err
    assert "3 records in 2 chunk(s)" in err and "1 bad record(s) skipped" in err
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [row["id"] for row in out] == [a["id"] for a in articles]
    for row, article in zip(out, articles):
        document = tiny_classifier.classify_document(article["text"])
        assert row["sentence_count"] == len(document.sentences)
        assert [(e["label"], len(e["evidence"])) for e in row["events"]] == \
               [(e.label, len(e.evidence)) for e in document.events]


class StopAfter:
    """A classifier that raises KeyboardInterrupt (as Ctrl-C would) on its ``calls + 1``-th predict."""

    def __init__(self, classifier, calls: int) -> None:
        self.classifier, self.calls, self.labels = classifier, calls, classifier.labels
        self.backend = classifier.backend

    def predict(self, texts, batch_size=32):
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        return self.classifier.predict(texts, batch_size=batch_size)


def test_resume_keeps_finished_chunks_and_refuses_a_changed_input(tiny_classifier, built_corpus, tmp_path, capsys):
    source = write_jsonl(tmp_path / "in.jsonl", real_sentences(built_corpus, 50))
    options = JobOptions(chunk_size=10)
    run_job(tiny_classifier, "tiny", source, tmp_path / "whole.jsonl", options)
    output = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_job(StopAfter(tiny_classifier, 2), "tiny", source, output, options)
    folder = parts_dir(output)
    finished = {path.name: path.stat().st_mtime_ns for path in folder.glob("chunk-*")}
    assert len(finished) == 4 and not output.exists()  # two parts and their records; no output yet

    with pytest.raises(JobError, match="model"):
        run_job(tiny_classifier, "another", source, output, options)
    summary = run_job(StopAfter(tiny_classifier, 3), "tiny", source, output, options)  # 3 chunks left to score
    assert (summary.chunks, summary.resumed) == (5, 2)
    assert "resuming: 2 finished chunk(s)" in capsys.readouterr().err
    assert output.read_bytes() == (tmp_path / "whole.jsonl").read_bytes()

    with pytest.raises(KeyboardInterrupt):
        run_job(StopAfter(tiny_classifier, 1), "tiny", source, output, options)
    with open(source, "a", encoding="utf-8") as handle:
        handle.write('{"text": "One more line."}\n')
    with pytest.raises(JobError, match="input_size"):
        run_job(tiny_classifier, "tiny", source, output, options)
    assert run_job(tiny_classifier, "tiny", source, output, options, restart=True).records == 51


def test_the_backend_is_chosen_and_a_resume_with_another_one_is_refused(tiny_model_dir, built_corpus, tmp_path,
                                                                        capsys):
    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    export_onnx(model, QUANTIZATION)
    rows = real_sentences(built_corpus, 30)
    source, output = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):  # a job started in PyTorch, one chunk finished
        run_job(StopAfter(load_classifier(model, backend="torch"), 1), model_fingerprint(model), source, output,
                JobOptions(chunk_size=10))
    command = ["--model", str(model), "--input", str(source), "--output", str(output), "--chunk-size", "10",
               "--backend", "onnx-fp32", "--threads", "1"]
    assert main(command) == 2
    assert "of a job with other backend (was 'torch')" in capsys.readouterr().err
    assert main(command + ["--restart"]) == 0
    out = [json.loads(line) for line in output.read_text().splitlines()]
    expected = load_classifier(model, backend="onnx-fp32").predict([row["text"] for row in rows])
    assert [(r["labels"], r["scores"]) for r in out] == [(list(p.labels), p.scores) for p in expected]


def test_threads_sleep_between_operations_unless_the_user_chose_otherwise():
    script = ("import os; from inference.env import sleep_between_operations as s; "
              "print(s(), os.environ['OMP_WAIT_POLICY'])")
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    for preset, expected in ((None, "True PASSIVE"), ("ACTIVE", "True ACTIVE")):
        child_env = {**env, "PYTHONPATH": str(ROOT), **({"OMP_WAIT_POLICY": preset} if preset else {})}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=child_env,
                              cwd=ROOT, timeout=120)
        assert done.stdout.strip() == expected, done.stderr[-2000:]


def _batch_command(model: Path, source: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "inference.batch", "--model", str(model), "--input", str(source),
            "--output", str(output), "--chunk-size", "50"]


@pytest.fixture(scope="module")
def signal_input(tiny_model_dir, built_corpus, tmp_path_factory) -> tuple[Path, Path]:
    """600 real sentences and the output of one uninterrupted run over them (a separate process)."""
    folder = tmp_path_factory.mktemp("batch-signals")
    source = write_jsonl(folder / "in.jsonl", real_sentences(built_corpus, 600))
    whole = folder / "whole.jsonl"
    done = subprocess.run(_batch_command(tiny_model_dir, source, whole), capture_output=True, text=True,
                          timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    return source, whole


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_a_real_signal_then_resume_gives_the_uninterrupted_output(tiny_model_dir, signal_input, tmp_path, signum):
    source, whole = signal_input
    output = tmp_path / "out.jsonl"
    command, env = _batch_command(tiny_model_dir, source, output), {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(parts_dir(output).glob("chunk-*.json"))) < 2 and process.poll() is None:
        assert time.monotonic() < deadline, "no chunk finished in time"
        time.sleep(0.05)
    process.send_signal(signum)
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 130, err[-2000:]
    assert "interrupted: the finished chunks are kept" in err and not output.exists()
    # A part whose record was not yet written when the signal came is not finished: it is scored again.
    finished = {path.name: path.stat().st_mtime_ns for path in parts_dir(output).glob("chunk-*.jsonl")
                if path.with_suffix(".json").exists()}
    assert 2 <= len(finished) < 12

    rescored = []
    resumed = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    while resumed.poll() is None:  # watch the parts until the job removes them: kept ones are never rewritten
        rescored += [name for name, mtime in finished.items()
                     if (parts_dir(output) / name).exists() and (parts_dir(output) / name).stat().st_mtime_ns != mtime]
        time.sleep(0.05)
    err = resumed.stderr.read()
    assert resumed.returncode == 0, err[-2000:]
    assert f"resuming: {len(finished)} finished chunk(s)" in err
    assert f"({len(finished)} resumed from an earlier run)" in err and not rescored
    assert output.read_bytes() == whole.read_bytes()
