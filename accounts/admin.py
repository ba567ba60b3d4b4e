from django.contrib import admin

from accounts.models import RevokedToken, RevokedUser

admin.site.register(RevokedToken, list_display=["jti", "user_id", "token_type", "expires_at"])
admin.site.register(RevokedUser, list_display=["user_id", "not_after"])
