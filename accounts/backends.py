"""Sign-in by username or by email, through one identifier: Django's `authenticate(username=...)`
(the token call, the admin's login) looks the user up by email when the identifier holds an `@`.
Usernames may not hold one (accounts.serializers), so the two never meet; a username from before
that rule still signs in when no account has it as its email."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

User = get_user_model()


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None or "@" not in username:
            return super().authenticate(request, username=username, password=password, **kwargs)
        user = User._default_manager.filter(email__iexact=username).first()  # unique, case-insensitively
        if user is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
