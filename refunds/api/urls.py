"""/api/v2/... (refunds and orders), /api/schema/ and /api/docs/."""

urlpatterns: list = []
