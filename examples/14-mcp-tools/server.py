"""A tiny MCP server for examples/14-mcp-tools, written with the official SDK (`mcp`).

It answers from a fixed release history, so the example runs offline. agnoctl starts it over
stdio (`command:` in the workflow) and stops it when the run ends. Run it alone with
`python examples/14-mcp-tools/server.py` to talk MCP to it on stdin/stdout.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

RELEASES = {
    "2.1.0": ["Runs resume after a kill", "Faster cache lookups"],
    "2.0.0": ["Sub-workflows (`uses:`)", "Approval steps"],
}

server = MCPServer("releases")


@server.tool()
def latest_release() -> str:
    """The newest release's version."""
    return max(RELEASES, key=lambda version: tuple(map(int, version.split("."))))


@server.tool()
def release_notes(version: str) -> str:
    """The changes a release brought, one per line."""
    changes = RELEASES.get(version)
    if changes is None:
        raise ValueError(f"no release {version}; known: {', '.join(sorted(RELEASES))}")
    return "\n".join(f"- {change}" for change in changes)


@server.tool()
def delete_release(version: str) -> str:
    """Delete a release (the workflow's `allow` keeps this one from its agent)."""
    return f"deleted {version}"


if __name__ == "__main__":
    server.run()
