"""The baseline: one `async def` FastAPI handler returning a small JSON object."""

from fastapi import FastAPI

# FastAPI's OpenTelemetry hook off, as in the service: the baseline should not pay a cost
# the service does not.
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})


@app.get("/")
async def hello() -> dict[str, str]:
    """What the stack itself costs per request: routing, serialization, HTTP."""
    return {"status": "ok"}
