from django.db import models

from integrations.crypto import decrypt, encrypt


class EncryptedTextField(models.TextField):
    """Text stored encrypted with the project's MultiFernet and read back in clear.

    Every save encrypts with the current first key, which is what key rotation relies on.
    Encryption is randomised, so the column cannot be filtered on.
    """

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
