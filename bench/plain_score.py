"""The plain baseline of serving_bench.py's batch-scoring row: what a data
scientist would write to score a CSV with a saved model. Reads the CSV with
pandas, loads the skops model, predicts and writes the rows with the same
two columns the platform adds. Imports nothing from the project.

    .venv/bin/python bench/plain_score.py MODEL.skops INPUT.csv OUTPUT.csv --threshold 0.5
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import skops.io


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--threshold", type=float, default=0.5)
    options = parser.parse_args()
    frame = pd.read_csv(options.input)
    model = skops.io.load(options.model, trusted=skops.io.get_untrusted_types(file=options.model))
    features = [str(name) for name in model.feature_names_in_]
    positive = list(model.classes_).index(1)
    probabilities = model.predict_proba(frame[features])[:, positive]
    frame["fraud_probability"] = probabilities
    frame["decision"] = (probabilities >= options.threshold).astype(np.int8)
    frame.to_csv(options.output, index=False)


if __name__ == "__main__":
    main()
