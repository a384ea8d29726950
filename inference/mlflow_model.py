"""The file MLflow logs as the model's code ("models from code"): no pickled object is stored.

MLflow runs this file when it loads the model; it only names the model class.
"""

import mlflow.models

from inference.pyfunc import DiplomaticEventsModel

mlflow.models.set_model(DiplomaticEventsModel())
