from rest_framework.permissions import IsAuthenticated as IsStaffMember

__all__ = ["IsStaffMember"]
