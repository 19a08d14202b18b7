from __future__ import annotations

from django.contrib.auth import views as auth_views


class HavenLoginView(auth_views.LoginView):
    template_name = "access/login.html"
    redirect_authenticated_user = True
