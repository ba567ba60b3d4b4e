from django.contrib import admin

from accounts.models import ReleasedEmail, RevokedFamily, RevokedToken, RevokedUser

admin.site.register(RevokedToken, list_display=["jti", "user_id", "token_type", "expires_at"])
admin.site.register(RevokedUser, list_display=["user_id", "not_after"])
admin.site.register(RevokedFamily, list_display=["family", "user_id", "expires_at"])
admin.site.register(ReleasedEmail, list_display=["user_id", "email", "kept_by_user_id", "released_at"])
