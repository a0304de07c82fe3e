"""The application's URLs plus the trivial view the benchmarks use as a limit and the stock
ModelAdmin changelist they use as a peer (peer_admin.py)."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns
from tests.benchmarks.peer_admin import peer_site


@csrf_exempt
def trivial(request):
    return JsonResponse({})


urlpatterns = [
    path("_bench/trivial", trivial),
    path("_bench/peer-admin/", peer_site.urls),
    *app_urlpatterns,
]
