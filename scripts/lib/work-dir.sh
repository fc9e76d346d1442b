# Sourced by the check-*.sh scripts: sets `work` to ${WORK_DIR} (emptied first) when it is set,
# else to a temporary directory removed when the script exits.
if [ -n "${WORK_DIR:-}" ]; then
  work=$WORK_DIR
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
