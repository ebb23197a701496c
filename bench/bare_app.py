"""The baseline: one `async def` FastAPI handler returning a small JSON object."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    """What the stack itself costs per request: routing, serialization, HTTP."""
    return {"status": "ok"}
