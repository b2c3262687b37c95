"""People's API tokens for scripts: `Authorization: Token <key>` (DRF's scheme, a leaner lookup).

Its own module: DRF imports the default authentication classes while `rest_framework.views` loads, so
this must not import anything that imports DRF views (annotations.errors does).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotations import rows


class UserTokenAuthentication(TokenAuthentication):
    """DRF's token authentication with the token→user lookup as one hand-written statement.

    It runs on every scripted request (the claim loop among them); the ORM's compile of the same join cost
    more CPU than the indexed lookup itself.
    """

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        user_model = get_user_model()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {rows.columns(user_model, 'u')} FROM {Token._meta.db_table} t "  # noqa: S608
                f"JOIN {user_model._meta.db_table} u ON u.id = t.user_id WHERE t.key = %s", [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = rows.from_row(user_model, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, Token(key=key, user=user)
