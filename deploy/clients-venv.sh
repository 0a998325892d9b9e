#!/usr/bin/env bash
# Creates (or refreshes) the virtualenv with the independent Kafka clients the lab tests drive
# (tests/clients/requirements.txt, pinned), idempotently: nothing is installed when the venv
# already holds exactly those pins. Wheels in /opt/wheels are used first when present.
# The venv lives at $KROLL_CLIENTS_VENV, else ~/.cache/kroll/clients-venv; prints its python.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/clients/requirements.txt
venv="${KROLL_CLIENTS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kroll/clients-venv}"
stamp="$venv/.kroll-requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then
  echo "$venv/bin/python"
  exit 0
fi
python=$(command -v python3 || true)
if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "clients-venv: needs python3 with venv and ensurepip (apt-get install python3 python3-venv)" >&2
  exit 1
fi
echo "clients-venv: installing $(grep -v '^#' "$req" | xargs) into $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
links=()
[ -d /opt/wheels ] && links=(--find-links /opt/wheels)
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${links[@]}" -r "$req" >&2
"$venv/bin/python" -c 'import confluent_kafka, kafka' >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
