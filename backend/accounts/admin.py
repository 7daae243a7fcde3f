from django.contrib import admin

from backend.accounts import services
from backend.accounts.models import AuditEvent, LearnerProfile, MentorProfile, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "role", "is_active", "is_demo", "date_joined"]
    list_filter = ["role", "is_active", "is_demo"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["email", "role", "password", "last_login", "date_joined", "email_verified_at", "is_active"]
    exclude = ["groups", "user_permissions"]
    # Blocking lives on the dashboard's Users page (/dashboard/admin/users/), which asks for the
    # reason the user is told and handles many accounts at once, all or nothing.
    actions = None


@admin.register(MentorProfile)
class MentorProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "headline", "approval_state", "decided_at"]
    list_filter = ["approval_state"]
    search_fields = ["user__email", "user__full_name", "headline"]
    readonly_fields = ["approval_state", "approval_note", "decided_at", "decided_by"]
    actions = ["approve"]

    @admin.action(description="Approve selected mentors")
    def approve(self, request, queryset):
        for profile in queryset.select_related("user"):
            services.mentor_decide(admin=request.user, mentor=profile.user, approve=True, request=request)


admin.site.register(LearnerProfile)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor", "target_type", "target_id", "ip_address"]
    list_filter = ["action"]
    search_fields = ["action", "actor__email", "target_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
