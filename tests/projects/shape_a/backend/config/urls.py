from core import views
from django.urls import path, re_path

urlpatterns = [
    path("", views.index),
    path("api/health", views.health),
    path("api/whoami", views.whoami),
    path("api/documents", views.documents),
    path("api/tasks", views.tasks),
    path("api/tasks/<int:run_id>", views.task_detail),
    # The dev server serves media itself, also with DEBUG off (the E2E variant).
    re_path(r"^media/(?P<path>.+)$", views.media, name="media"),
]
