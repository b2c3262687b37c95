from django.urls import path, re_path

from annotations.api import accounts, assets, devices, members, projects

urlpatterns = [
    path("auth/login", accounts.LoginView.as_view(), name="auth-login"),
    path("auth/logout", accounts.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", accounts.MeView.as_view(), name="auth-me"),
    path("auth/token", accounts.TokenView.as_view(), name="auth-token"),
    path("auth/password-reset", accounts.PasswordResetView.as_view(), name="auth-password-reset"),
    path("auth/password-set", accounts.PasswordSetView.as_view(), name="auth-password-set"),
    path("projects/<int:project_id>/invitations", accounts.InvitationView.as_view(), name="project-invite"),
    path("projects/<int:project_id>/sites/", members.ProjectSitesView.as_view(), name="project-sites"),
    path("projects/<int:project_id>/members/", members.ProjectMembersView.as_view(), name="project-members"),
    path("projects/<int:project_id>/members/<int:membership_id>", members.MemberView.as_view(), name="project-member"),
    path("projects/<int:project_id>/review-settings", projects.ReviewSettingsView.as_view(),
         name="project-review-settings"),
    path("projects/<int:project_id>/devices/", devices.ProjectDevicesView.as_view(), name="project-devices"),
    path("devices/<int:device_id>/revoke", devices.DeviceRevokeView.as_view(), name="device-revoke"),
    path("assets/<str:sha256>", assets.AssetView.as_view(), name="asset"),
    # Any segment reaches the view, so a bad frame index gets a 400 with a reason, not a bare 404.
    re_path(r"^assets/(?P<sha256>[^/]+)/frames/(?P<n>[^/]+)\.jpg$", assets.FrameView.as_view(), name="asset-frame"),
    path("assets/<str:sha256>/thumb.jpg", assets.ThumbView.as_view(), name="asset-thumb"),
]
