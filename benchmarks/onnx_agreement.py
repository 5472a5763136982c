"""How closely the ONNX exports follow the torch pipeline they come from, on real texts.

For a float32 transformer pipeline MODEL (model-best or model-trimmed): the token vectors
the heads read (cosine to torch fp32, per token) and the annotations (the share of docs
whose doc.ents, doc.spans["nerel"] and triples are identical, and the largest doc.cats
difference) of the ONNX fp32 export, the ONNX int8 export and the project's torch int8
pipeline (`nerel-batch quantize --backend int8`). Independent of how well the model is
trained: it checks the runtime, not the model.

    python benchmarks/onnx_agreement.py training/RUN/model-trimmed corpus/dev.spacy \
        --output benchmarks/results/onnx_agreement.json
"""
import argparse
import json
from pathlib import Path

import numpy
import spacy

from nerel_spacy.corpus import read_corpus
from nerel_spacy.machine import describe_machine
from nerel_spacy.quantize import quantize_pipeline
from nerel_spacy.runtime.export import export_onnx_pipeline


def token_vectors(nlp, texts, encoder: str):
    """The token vectors nerel_joint reads, per doc."""
    joint = nlp.get_pipe("nerel_joint")
    vectors = []
    for doc in nlp.get_pipe(encoder).pipe(nlp.make_doc(text) for text in texts):
        vectors.append(joint.model.get_ref("tok2vec").predict([doc])[0])
    return vectors


def annotations(doc):
    relations = [(r["head"], r["tail"], r["label"]) for r in (doc._.relations or [])] if doc.has_extension("relations") else []
    return ([(e.start, e.end, e.label_) for e in doc.ents],
            [(s.start, s.end, s.label_) for s in doc.spans.get("nerel", [])], sorted(relations))


def compare(reference, candidate, ref_vectors, cand_vectors):
    cosines = []
    for a, b in zip(ref_vectors, cand_vectors):
        norms = numpy.linalg.norm(a, axis=1) * numpy.linalg.norm(b, axis=1)
        cosines.append(((a * b).sum(axis=1) / numpy.maximum(norms, 1e-12)))
    cosines = numpy.concatenate(cosines)
    same = {"ents": 0, "spans": 0, "relations": 0}
    cats_diff = 0.0
    for ref_doc, doc in zip(reference, candidate):
        for key, a, b in zip(same, annotations(ref_doc), annotations(doc)):
            same[key] += a == b
        cats_diff = max([cats_diff] + [abs(ref_doc.cats[k] - doc.cats.get(k, 0.0)) for k in ref_doc.cats])
    return {"token_cosine_mean": float(cosines.mean()), "token_cosine_min": float(cosines.min()),
            **{f"docs_same_{key}": value / len(reference) for key, value in same.items()},
            "cats_max_abs_diff": float(cats_diff)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--n-docs", type=int, default=0, help="docs compared (0: all)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    nlp = spacy.load(args.model)
    texts = [doc.text for doc in read_corpus(args.data, nlp.vocab)]
    texts = texts[: args.n_docs or len(texts)]
    variants = {"onnx fp32": (export_onnx_pipeline(nlp, int8=False)[0], "encoder"),
                "onnx int8": (export_onnx_pipeline(nlp, int8=True)[0], "encoder"),
                "torch int8 (nerel int8 kernels)": (quantize_pipeline(nlp, compute="int8")[0], "transformer")}
    reference = list(nlp.pipe(texts))
    ref_vectors = token_vectors(nlp, texts, "transformer")
    report = {"model": args.model, "data": args.data, "n_docs": len(texts), "machine": describe_machine(2),
              "reference": "torch fp32", "variants": {}}
    for label, (variant, encoder) in variants.items():
        report["variants"][label] = compare(reference, list(variant.pipe(texts)), ref_vectors,
                                            token_vectors(variant, texts, encoder))
        print(label, json.dumps(report["variants"][label]))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
