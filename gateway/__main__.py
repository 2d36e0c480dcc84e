"""`python -m gateway run -c FILE`: the same commands as `plantproof gateway`."""

from gateway.cli import app

if __name__ == "__main__":
    app(prog_name="python -m gateway")
