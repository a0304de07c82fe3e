"""The application's URLs plus the trivial view the benchmarks use as a limit."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns


@csrf_exempt
def trivial(request):
    return JsonResponse({})


urlpatterns = [path("_bench/trivial", trivial), *app_urlpatterns]
