from django.conf import settings


def ui(request):
    user = getattr(request, "user", None)
    theme = getattr(user, "theme", "system") if user is not None and user.is_authenticated else "system"
    return {"ui_theme": theme, "site_url": settings.SITE_URL}
