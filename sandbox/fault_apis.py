"""POST/GET/DELETE /sandbox/faults/: arm, list and clear faults. The control panel's conventions (error shape,
pagination, see control.py) apply here, since this is not an imitation of a gateway."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox.control import PagePagination
from sandbox.faults import arm_fault, armed_faults, clear_faults
from sandbox.models import Fault


class SandboxFaultSerializer(serializers.ModelSerializer):
    fault = serializers.CharField(source="kind")
    count = serializers.IntegerField(source="remaining", help_text="uses left")

    class Meta:
        model = Fault
        fields = ["id", "gateway", "fault", "count", "delay_seconds", "armed_at"]


class FaultsApi(APIView):
    """Open like the rest of the sandbox, a local test double that payfirst in live mode never talks to."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class SandboxFaultArmSerializer(serializers.Serializer):
        gateway = serializers.ChoiceField(choices=Fault.Gateway.values)
        fault = serializers.ChoiceField(choices=Fault.Kind.values)
        count = serializers.IntegerField(min_value=1, max_value=1000, default=1)
        delay_seconds = serializers.IntegerField(
            min_value=1,
            max_value=86400,
            required=False,
            help_text="webhook_delay: how long (default 30); manual_capture: the auto-refund window; "
            "late_authorization: how long until authorised; order_expiry: the order's life (default 1). Gateway "
            "seconds, compressed by SANDBOX_TIME_SCALE",
        )

    class FilterSerializer(serializers.Serializer):
        gateway = serializers.ChoiceField(choices=Fault.Gateway.values, required=False)

    @extend_schema(
        operation_id="sandbox_faults_arm",
        tags=["sandbox"],
        request=SandboxFaultArmSerializer,
        responses={201: SandboxFaultSerializer, 400: OpenApiResponse(description="invalid_input")},
    )
    def post(self, request: Request) -> Response:
        data = self.SandboxFaultArmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fault = arm_fault(
            gateway=data.validated_data["gateway"],
            kind=data.validated_data["fault"],
            count=data.validated_data["count"],
            delay_seconds=data.validated_data.get("delay_seconds"),
        )
        return Response(SandboxFaultSerializer(fault).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="sandbox_faults_list",
        tags=["sandbox"],
        parameters=[OpenApiParameter("gateway", str, enum=Fault.Gateway.values)],
        responses={
            200: inline_serializer(
                "SandboxFaultPage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": SandboxFaultSerializer(many=True),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        paginator = PagePagination()
        page = paginator.paginate_queryset(
            armed_faults(gateway=query.validated_data.get("gateway")), request, view=self
        )
        return paginator.get_paginated_response(SandboxFaultSerializer(page, many=True).data)

    @extend_schema(
        operation_id="sandbox_faults_clear",
        tags=["sandbox"],
        parameters=[OpenApiParameter("gateway", str, enum=Fault.Gateway.values)],
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        clear_faults(gateway=query.validated_data.get("gateway"))
        return Response(status=status.HTTP_204_NO_CONTENT)
