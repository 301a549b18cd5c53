from aiworkflow.errors import ApplicationError


class InstallStateInvalid(ApplicationError):
    status_code = 400
    default_message = "The installation state is invalid."


class InstallStateWrongUser(ApplicationError):
    status_code = 403
    default_message = "This installation link was issued to another user."


class InstallationOwnershipUnverified(ApplicationError):
    status_code = 403
    default_message = "The installation could not be verified as yours."


class InstallCompletionInvalid(ApplicationError):
    status_code = 400
    default_message = "The install completion is not one this server issued."


class InstallCompletionWrongUser(ApplicationError):
    status_code = 403
    default_message = "This installation was started by another user; sign in as that user to complete it."


class OAuthCodeInvalid(ApplicationError):
    status_code = 400
    default_message = "GitHub did not accept the authorization code."


class InstallationNotFound(ApplicationError):
    status_code = 404
    default_message = "GitHub does not know this installation of the App."


class GitHubAppNotConfigured(ApplicationError):
    status_code = 503
    default_message = "The GitHub App is not configured on this server."


class GitHubBadGateway(ApplicationError):
    status_code = 502
    default_message = "GitHub answered with an error."


class GitHubUnavailable(ApplicationError):
    status_code = 503
    default_message = "GitHub could not be reached; try again shortly."


class FileNotAFile(ApplicationError):
    status_code = 422
    default_message = "The path names a directory or a link, not a file."


class UserTokenRejected(ApplicationError):
    status_code = 403
    default_message = "GitHub no longer accepts your authorization of the App; connect GitHub again."


class PathOutsideRepository(ApplicationError):
    status_code = 422
    default_message = "The path has a . or .. segment; it must stay inside the repository."


class AppRegistrationStateInvalid(ApplicationError):
    status_code = 400
    default_message = "This App registration was not started here, by you, in this browser, within the hour."


class AppManifestCodeInvalid(ApplicationError):
    status_code = 400
    default_message = "GitHub did not accept the registration code: it is used or more than an hour old."
