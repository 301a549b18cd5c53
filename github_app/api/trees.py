"""A repository's tree at a ref, for a workflow step that lists files."""

from urllib.parse import quote

from github import Github

from github_app.api.installation_client import installation_call
from github_app.api.reads import ConditionalReads, _read


def tree_files(*, installation_id: int, repo: str, ref: str | None, reads: ConditionalReads | None = None) -> dict:
    """Every file (blob) of the tree at `ref` (the default branch when None), recursively, as one
    request; `truncated` when GitHub itself cut the listing (past 100,000 entries or 7 MB)."""

    def read(github: Github) -> dict:
        tree_ref = ref or _read(github, f"/repos/{repo}", reads=reads)["default_branch"]
        # A ref is one segment of the URL, slashes and all (feature/x names a branch, not a path).
        data = _read(
            github, f"/repos/{repo}/git/trees/{quote(tree_ref, safe='')}", params={"recursive": "1"}, reads=reads
        )
        files = [
            {"path": entry["path"], "size": entry.get("size"), "sha": entry["sha"], "mode": entry.get("mode")}
            for entry in data.get("tree", [])
            if entry.get("type") == "blob"
        ]
        return {"ref": tree_ref, "sha": data["sha"], "files": files, "truncated": bool(data.get("truncated"))}

    return installation_call(installation_id, read)
