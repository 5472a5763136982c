"""Inference without torch: the encoder as an ONNX graph run by ONNX Runtime.

``onnx_encoder`` (the ``nerel_onnx_encoder`` component and ``nerel.DocTensor.v1``) and
``alignment`` import neither torch nor transformers; ``export`` (``nerel-batch
export-onnx``) does, to write the graph from a trained pipeline.
"""
