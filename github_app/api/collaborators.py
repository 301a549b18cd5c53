"""What a person may do in a repository, as the installation sees it: the commenter of a comment
command is asked about before the command starts a run."""

from urllib.parse import quote

from github import Github, GithubException

from github_app.api.installation_client import installation_call

NOT_A_COLLABORATOR = 404


def collaborator_permission(*, installation_id: int, repo: str, username: str) -> dict | None:
    """The user's access to the repository (`GET /repos/{owner}/{repo}/collaborators/{user}/permission`):
    {"permission": admin|write|read|none, "role_name": admin|maintain|write|triage|read or a custom
    role}; None when the user is not a collaborator (GitHub's 404). Any other failure raises."""

    def read(github: Github) -> dict | None:
        path = f"/repos/{repo}/collaborators/{quote(username, safe='')}/permission"
        try:
            _, data = github.requester.requestJsonAndCheck("GET", path)
        except GithubException as exc:
            if exc.status == NOT_A_COLLABORATOR:
                return None
            raise
        return {"permission": data.get("permission"), "role_name": data.get("role_name")}

    return installation_call(installation_id, read)
