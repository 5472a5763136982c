# Sourced by the benchmark scripts (throughput.sh, onnx_runtime.sh, cnn_speed.sh): the torch-free venv and
# the int8 / ONNX copies they time. Needs FORCE and RUNTIME_VENV set by the caller.

# RUNTIME_VENV: nerel-spacy's core install with its onnxruntime extra, and no torch.
ensure_runtime_venv() {
  if [ ! -x "$RUNTIME_VENV/bin/python" ]; then
    python -m venv "$RUNTIME_VENV"
    "$RUNTIME_VENV/bin/pip" install --quiet -e ".[onnxruntime]"
  fi
}

# make_copy int8|onnx SOURCE_PIPELINE DEST: DEST from SOURCE_PIPELINE, unless DEST exists
# (FORCE=1 makes it again).
make_copy() {
  if [ "$FORCE" != 1 ] && [ -d "$3" ]; then
    return
  fi
  case "$1" in
    int8) nerel-batch quantize "$2" "$3" --backend int8 --overwrite ;;
    onnx) nerel-batch export-onnx "$2" "$3" --overwrite ;;
    *) echo "make_copy: unknown kind $1" >&2; return 2 ;;
  esac
}
