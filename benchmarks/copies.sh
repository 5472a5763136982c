# Sourced by the benchmark scripts (throughput.sh, onnx_runtime.sh, cnn_speed.sh, cnn_inference_speedups.sh):
# the torch-free venv, the pipelines they need and the int8 / ONNX copies they time. Needs FORCE and
# RUNTIME_VENV set by the caller.

# RUNTIME_VENV: nerel-spacy's core install with its onnxruntime extra, and no torch.
ensure_runtime_venv() {
  if [ ! -x "$RUNTIME_VENV/bin/python" ]; then
    python -m venv "$RUNTIME_VENV"
    "$RUNTIME_VENV/bin/pip" install --quiet -e ".[onnxruntime]"
  fi
}

# ensure_runtime_venv_with_natasha: the same venv, with natasha (the vectors extra) beside it.
ensure_runtime_venv_with_natasha() {
  ensure_runtime_venv
  if ! "$RUNTIME_VENV/bin/python" -c "import natasha" 2>/dev/null; then
    "$RUNTIME_VENV/bin/pip" install --quiet -e ".[onnxruntime,vectors]"
  fi
}

# require_pipelines SCRIPT FOLDER...: stop with a message naming SCRIPT when a FOLDER is missing.
require_pipelines() {
  local script=$1
  shift
  for needed in "$@"; do
    if [ ! -d "$needed" ]; then
      echo "$script: $needed is missing; the comment at the top of this script says which command makes it" >&2
      exit 1
    fi
  done
}

# make_copy int8|onnx|compact SOURCE_PIPELINE DEST: DEST from SOURCE_PIPELINE, unless DEST exists
# (FORCE=1 makes it again; int8 and onnx copies made before session 41 keep dense static vectors).
make_copy() {
  if [ "$FORCE" != 1 ] && [ -d "$3" ]; then
    return
  fi
  case "$1" in
    int8) nerel-batch quantize "$2" "$3" --backend int8 --overwrite ;;
    onnx) nerel-batch export-onnx "$2" "$3" --overwrite ;;
    compact) nerel-batch compact-vectors "$2" "$3" --overwrite ;;
    *) echo "make_copy: unknown kind $1" >&2; return 2 ;;
  esac
}
