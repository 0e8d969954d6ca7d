# Starts moto's server on 127.0.0.1:$MOTO_PORT unless one already answers
# there, and waits for it. Sets MOTO_PID when it started one.
# Usage (after env.sh): source infra/local/moto.sh

MOTO_PID=""
if ! curl -fsS "${AWS_ENDPOINT_URL}/moto-api/" >/dev/null 2>&1; then
  mkdir -p "$ROOT/.local"
  python3 "$ROOT/infra/local/stand_in.py" 127.0.0.1 "$MOTO_PORT" > "$ROOT/.local/moto-$MOTO_PORT.log" 2>&1 &
  MOTO_PID=$!
fi
python3 "$ROOT/infra/local/bootstrap.py" --wait
python3 "$ROOT/infra/local/bootstrap.py"
