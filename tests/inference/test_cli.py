import json
import subprocess
import sys

from inference.cli import main
from tests.conftest import ROOT, SEED_TEXT


def _run(args, stdin=""):
    return subprocess.run([sys.executable, "-m", "inference", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_stdin_lines_to_json_lines(tiny_model_dir):
    done = _run(["--model", str(tiny_model_dir)], "Talks began in Geneva.\nAid arrived.\n")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["Talks began in Geneva.", "Aid arrived."]
    assert [r["line"] for r in rows] == [1, 2]
    assert all(len(r["scores"]) == 9 and isinstance(r["labels"], list) for r in rows)


def test_bad_lines_are_reported_and_the_rest_processed(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "Aid arrived."}\n{broken\n{"text": 5}\n{"id": 7, "text": "Talks."}\n')
    code = main(["--model", str(tiny_model_dir), str(source)])
    out, err = capsys.readouterr()
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["a", "7"]
    assert f"{source}:2: malformed JSON" in err
    assert f"{source}:3: expected an object" in err


def test_documents_mode_reads_a_whole_file(tiny_model_dir, capsys):
    code = main(["--model", str(tiny_model_dir), "--documents", "--sentences", str(SEED_TEXT)])
    out, _ = capsys.readouterr()
    assert code == 0
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["sentence_count"] == 16 and len(row["sentences"]) == 16
    text = SEED_TEXT.read_text(encoding="utf-8")
    for event in row["events"]:
        for ev in event["evidence"]:
            assert text[ev["start"] : ev["end"]] == ev["text"]


def test_text_format_is_readable(tiny_model_dir, capsys):
    main(["--model", str(tiny_model_dir), "--documents", "--format", "text", str(SEED_TEXT)])
    out, _ = capsys.readouterr()
    assert out.startswith(f"{SEED_TEXT}: ") and "sentences" in out


def test_missing_model_fails_with_a_message(tmp_path, capsys):
    assert main(["--model", str(tmp_path / "none"), str(SEED_TEXT)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_input_file_is_a_failed_line(tiny_model_dir, tmp_path, capsys):
    assert main(["--model", str(tiny_model_dir), str(tmp_path / "absent.txt")]) == 1
    assert "cannot read" in capsys.readouterr().err


def _rows(out):
    return [json.loads(line) for line in out.split("\n") if line]


def test_a_lone_surrogate_or_a_bad_byte_loses_only_its_own_line(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "Aid arrived."}\n{"id": "b", "text": "bad \\udcff"}\n'
                      '{"id": "c", "text": "Talks began."}\n', encoding="utf-8")
    plain = tmp_path / "in.txt"
    plain.write_bytes(b"Aid arrived.\nbad \xff byte\nTalks began.\n")
    code = main(["--model", str(tiny_model_dir), str(source), str(plain)])
    out, err = capsys.readouterr()
    assert code == 1
    assert [r.get("id", r["text"]) for r in _rows(out)] == ["a", "c", "Aid arrived.", "Talks began."]
    assert f"{source}:2: the text holds a lone surrogate" in err
    assert f"{plain}:2: invalid UTF-8" in err


def test_invalid_utf8_on_stdin_is_reported_by_line(tiny_model_dir):
    done = subprocess.run([sys.executable, "-m", "inference", "--model", str(tiny_model_dir)],
                          input=b"Talks began.\n\xc3\x28 broken\nAid arrived.\n", capture_output=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 1
    assert [r["text"] for r in _rows(done.stdout.decode())] == ["Talks began.", "Aid arrived."]
    assert "-:2: invalid UTF-8" in done.stderr.decode()


def test_json_lines_split_on_newlines_only_and_a_bom_is_skipped(tiny_model_dir, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    record = {"id": "x", "text": "Talks began\u2028in Geneva\u2029today\x85and\x0cended."}
    source.write_bytes(b"\xef\xbb\xbf" + (json.dumps(record, ensure_ascii=False) + "\n"
                                         + json.dumps({"id": "y", "text": "Aid."}) + "\n").encode("utf-8"))
    assert main(["--model", str(tiny_model_dir), str(source)]) == 0
    assert [(r["id"], r["text"]) for r in _rows(capsys.readouterr().out)] == [("x", record["text"]), ("y", "Aid.")]
    assert main(["--model", str(tiny_model_dir), "--documents", str(source)]) == 0
    assert [r["id"] for r in _rows(capsys.readouterr().out)] == ["x", "y"]


def test_a_plain_article_starting_with_a_brace_is_one_article_with_offsets_into_the_file(tiny_model_dir, tmp_path,
                                                                                        capsys):
    article = tmp_path / "article.txt"
    article.write_bytes(b"{Update} Kim met Putin.\r\nThey talked about arms.\r\n")
    assert main(["--model", str(tiny_model_dir), "--documents", "--sentences", str(article)]) == 0
    (row,) = _rows(capsys.readouterr().out)
    text = article.read_bytes().decode("utf-8")
    assert row["sentence_count"] == 2
    assert all(text[s["start"] : s["end"]] == s["text"] for s in row["sentences"])


def test_batch_size_zero_is_a_usage_error(tiny_model_dir):
    done = _run(["--model", str(tiny_model_dir), "--batch-size", "0"], "Talks began.\n")
    assert done.returncode == 2 and "must be at least 1" in done.stderr and "Traceback" not in done.stderr


def test_a_reader_that_stops_early_gets_no_traceback(tiny_model_dir, tmp_path):
    source = tmp_path / "many.txt"
    source.write_text("Talks began in Geneva.\n" * 3000)
    done = subprocess.run(f"'{sys.executable}' -m inference --model '{tiny_model_dir}' '{source}' | head -n 1",
                          shell=True, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
