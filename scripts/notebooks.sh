#!/usr/bin/env bash
# Executes the notebooks in notebooks/ end to end, in place (outputs and PNG charts are committed), offline.
#
#   scripts/notebooks.sh            # every notebook
#   scripts/notebooks.sh notebooks/explore-weight-sweep.ipynb
#
# Needs: Debian's Jupyter pieces (installed here when missing, with apt-get) and Deno's Jupyter kernel
# (`npx -y deno@2.9.6 jupyter --install`; deno is not a devDependency, see docs/lab.md). The notebooks import the
# project's TypeScript sources directly, so no build is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
APT_PACKAGES=(jupyter-nbconvert jupyter-client python3-nbclient jupyter-core)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y "${missing[@]}" >&2
fi

# Debian's Jupyter runs on /usr/bin/python3 (a pyenv python3 earlier on PATH has no Jupyter).
JUPYTER=/usr/bin/jupyter
[ -x "$JUPYTER" ] || JUPYTER=jupyter

if ! "$JUPYTER" kernelspec list 2>/dev/null | grep -qE '^\s+deno\s'; then
  echo "registering the Deno Jupyter kernel (deno@$DENO_VERSION)" >&2
  npx -y "deno@$DENO_VERSION" jupyter --install --force >&2
fi

notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks/*.ipynb)
for nb in "${notebooks[@]}"; do
  echo "executing $nb" >&2
  start=$(date +%s)
  "$JUPYTER" nbconvert --to notebook --execute --inplace \
    --ExecutePreprocessor.kernel_name=deno --ExecutePreprocessor.timeout=900 \
    --ExecutePreprocessor.record_timing=False "$nb"
  echo "  done in $(( $(date +%s) - start )) s" >&2
done
