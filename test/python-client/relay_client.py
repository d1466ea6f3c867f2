"""Sends what the official OpenAI Python SDK sends, over its own transport (httpx), through the relay.

Usage: relay_client.py BASE_URL TOKEN
Prints one JSON line per request: {"case", "request_id", "status", "content_encoding", "usage"} where usage is the
usage object the client itself read from the (decoded) body or the stream's usage chunk.
"""
import json
import sys

import httpx

# The Python SDK's default headers (openai-python _base_client.py): httpx adds Accept-Encoding: gzip, deflate.
HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    "User-Agent": "OpenAI/Python 1.99.0",
    "X-Stainless-Lang": "python",
    "X-Stainless-Package-Version": "1.99.0",
    "X-Stainless-OS": "Linux",
    "X-Stainless-Arch": "x64",
    "X-Stainless-Runtime": "CPython",
    "X-Stainless-Runtime-Version": "3.11.2",
    "X-Stainless-Async": "false",
    "X-Stainless-Retry-Count": "0",
    "X-Stainless-Read-Timeout": "600",
}

CASES = [
    ("chat", "/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}),
    ("chat-stream", "/chat/completions", {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True},
                                          "messages": [{"role": "user", "content": "hello there"}]}),
    ("responses", "/responses", {"model": "gpt-4o-mini", "input": "hello"}),
    ("responses-stream", "/responses", {"model": "gpt-4o-mini", "stream": True, "input": "hello"}),
    ("embeddings", "/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b c"]}),
]


def stream_usage(response):
    usage = None
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        event = json.loads(data)
        if event.get("usage"):
            usage = event["usage"]
        if isinstance(event.get("response"), dict) and event["response"].get("usage"):
            usage = event["response"]["usage"]
    return usage


def main():
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    headers = dict(HEADERS, Authorization=f"Bearer {token}")
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        assert client.headers["accept-encoding"] == "gzip, deflate", client.headers
        for name, path, body in CASES:
            if body.get("stream"):
                with client.stream("POST", path, json=body) as response:
                    usage = stream_usage(response)
            else:
                response = client.post(path, json=body)
                usage = response.json().get("usage")
            print(json.dumps({
                "case": name,
                "request_id": response.headers.get("x-relay-request-id"),
                "status": response.status_code,
                "content_encoding": response.headers.get("content-encoding"),
                "usage": usage,
            }), flush=True)


if __name__ == "__main__":
    main()
