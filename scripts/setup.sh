#!/usr/bin/env bash
# Creates .venv in the repository and installs ludus (editable) with every extra.
# torch goes in first, so that ludus's `torch>=2.6` finds it installed. Which build that is
# depends on where pip finds it: on the machines ludus is developed on, torch==2.13.0 is a
# CPU wheel lying on their disk; PyPI's Linux wheel of that version is a CUDA build of
# several GB. TORCH_INDEX=https://download.pytorch.org/whl/cpu takes the CPU build from
# PyTorch's index; TORCH_SPEC picks another version. The last line says what was installed.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/pip install -q "${TORCH_SPEC:-torch==2.13.0}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
.venv/bin/pip install -q -e ".[all]"
.venv/bin/python -c "import torch; print(f'torch {torch.__version__}:',
    f'CUDA {torch.version.cuda} build' if torch.version.cuda else 'CPU build')"
