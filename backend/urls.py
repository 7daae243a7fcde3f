from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.core import health, pwa
from backend.core.access import Rule, page
from backend.dashboards import api as dashboard_api

# Django admin asks for a verified second factor, like the custom admin dashboard.
admin.site.__class__ = OTPAdminSite
admin.site.site_header = "PeerLearn admin"


class SchemaView(SpectacularAPIView):
    access_rule = Rule.PUBLIC


class DocsView(SpectacularSwaggerView):
    access_rule = Rule.PUBLIC


urlpatterns = [
    path("", include("backend.marketplace.urls")),
    path("", include("backend.accounts.urls")),
    path("dashboard/notifications/", include("backend.notifications.urls")),
    path("dashboard/admin/recommendations/", include("backend.recommendations.urls")),
    path("dashboard/", include("backend.dashboards.urls")),
    path("dashboard/admin/", include("backend.payments.admin_urls")),
    path("", include("backend.rooms.urls")),
    path("", include("backend.payments.urls")),
    path("api/auth/", include("backend.accounts.api_urls")),
    path("api/notifications/", include("backend.notifications.api_urls")),
    path("api/", include("backend.marketplace.api_urls")),
    path("api/dashboard/learner/", dashboard_api.LearnerDashboardView.as_view(), name="api-dashboard-learner"),
    path("api/dashboard/mentor/", dashboard_api.MentorDashboardView.as_view(), name="api-dashboard-mentor"),
    path("api/recommendations/", include("backend.recommendations.api_urls")),
    path("api/sync/", include("sync.urls")),
    path("api/push/", include("push.urls")),
    path(
        "api/dashboard/mentor/analytics/",
        dashboard_api.MentorAnalyticsView.as_view(),
        name="api-dashboard-mentor-analytics",
    ),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # The installable app: manifest, service worker (root scope) and its offline fallback page.
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service-worker"),
    path("offline/", pwa.offline, name="offline"),
    # Probes for supervisors and load balancers, and the admin's view of the same checks.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("dashboard/admin/health/", health.admin_health, name="admin-health"),
]

if settings.DEBUG or settings.EMBEDDED:
    # Uploaded photos on the embedded default; production serves MEDIA_ROOT from the proxy.
    urlpatterns.append(path("media/<path:path>", page(Rule.PUBLIC)(serve), {"document_root": settings.MEDIA_ROOT}))
