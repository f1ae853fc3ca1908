from django.urls import path, re_path

from shape_b.core import views

urlpatterns = [
    path("", views.index, name="home"),
    path("api/whoami", views.whoami, name="whoami"),
    path("api/documents", views.documents, name="documents"),
    path("api/tasks", views.tasks, name="tasks"),
    path("api/tasks/<int:run_id>", views.task_detail, name="task-detail"),
    path("api/beat", views.beat, name="beat"),
    re_path(r"^media/(?P<path>.+)$", views.media, name="media"),
]
