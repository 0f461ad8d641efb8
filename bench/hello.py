"""The throughput baseline: a bare Flask app that returns a string (``gunicorn bench.hello:app``)."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "Hello, World!"
