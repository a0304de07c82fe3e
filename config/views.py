from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


@login_required
def home(request):
    """Staff land on the refund queue, customers on the portal."""
    if request.user.is_staff:
        return redirect("staff:refund-queue")
    return redirect("portal:home")
