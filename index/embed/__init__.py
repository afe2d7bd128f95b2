"""Stage 2, sentences → vectors: the encoder interface and its backends.

``encoders`` holds the interface, the model spec and the factory; ``onnx_encoder`` (default,
int8), ``torch_encoder`` (any sentence-transformers model) and ``hashing_encoder`` (no model,
for tests) are the backends.
"""
