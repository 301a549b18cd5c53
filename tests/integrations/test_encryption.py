import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import call_command
from django.db import connection

from integrations.crypto import DecryptionError
from integrations.models import OAuthToken
from tests.conftest import github_connection

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
SECRET = "ghu_" + "s" * 36


def stored_ciphertext(token: OAuthToken) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM integrations_oauthtoken WHERE id = %s", [token.pk.hex])
        return cursor.fetchone()[0]


@pytest.fixture
def token(user, settings) -> OAuthToken:
    settings.ENCRYPTION_KEY = [KEY_A]
    return github_connection(user, 1, access_token=SECRET)


def test_token_is_stored_encrypted_and_read_in_clear(token):
    assert SECRET not in stored_ciphertext(token)
    assert Fernet(KEY_A).decrypt(stored_ciphertext(token).encode()).decode() == SECRET
    assert OAuthToken.objects.get(pk=token.pk).access_token == SECRET


def test_null_stays_null(user, token):
    token.refresh_token = None
    token.save()
    assert OAuthToken.objects.get(pk=token.pk).refresh_token is None


def test_key_rotation(token, settings):
    settings.ENCRYPTION_KEY = [KEY_B, KEY_A]
    assert OAuthToken.objects.get(pk=token.pk).access_token == SECRET, "old key still decrypts"

    call_command("rotate_encryption_keys")

    assert Fernet(KEY_B).decrypt(stored_ciphertext(token).encode()).decode() == SECRET
    settings.ENCRYPTION_KEY = [KEY_B]
    assert OAuthToken.objects.get(pk=token.pk).access_token == SECRET, "old key no longer needed"


def test_dropping_a_key_before_rotation_fails_loudly_without_the_secret(token, settings):
    settings.ENCRYPTION_KEY = [KEY_B]

    with pytest.raises(DecryptionError) as raised:
        OAuthToken.objects.get(pk=token.pk)

    assert SECRET not in str(raised.value) and stored_ciphertext(token) not in str(raised.value)


@pytest.mark.parametrize("keys", [["not-a-fernet-key"], [KEY_A, "short"], []])
def test_malformed_keys_fail_the_system_check(settings, keys):
    settings.ENCRYPTION_KEY = keys

    assert {message.id for message in checks.run_checks()} & {"integrations.E001", "integrations.E002"}
