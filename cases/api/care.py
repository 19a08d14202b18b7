"""API views for the care work on a case: the plan, services, tasks, attachments and
referrals made, and what is due over every case the caller reads (``/tasks/``). As in
``cases.api.views``: each handler declares its access, parses, calls one service or
selector, and serialises."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from access import policy
from access.endpoints import case_endpoint, staff_endpoint
from access.models import User
from access.roles import Capability
from cases import selectors, services
from cases.api import serializers as s
from cases.models import Case
from haven.api import (
    ERROR,
    ERRORS,
    STALE,
    ApiView,
    DownloadView,
    created,
    paginated,
    validated,
    wants_bytes,
)


class DueApi(ApiView):
    @extend_schema(
        operation_id="tasks_due",
        parameters=[s.DueQuery],
        responses={200: paginated(s.DueOutput), **ERRORS},
        summary="What is due: follow-ups, tasks, services and plan reviews, over the open "
        "cases the caller may read",
    )
    @staff_endpoint(need=Capability.CASE_READ, action="task.list")
    def get(self, request: Request, *, actor: User) -> Response:
        params = {k: v for k, v in request.query_params.items() if k != "page"}
        query = validated(s.DueQuery, params)
        items = selectors.due_for(
            user=actor,
            when=query.get("when"),
            sort=query["sort"],
            mine=query["mine"] == "true",
        )
        paginator, page = self.paginate(request, items)
        policy.record_list(actor, action="task.list", count=len(page))
        return paginator.get_paginated_response(s.DueOutput(page, many=True).data)


# --- the plan ----------------------------------------------------------------------


class PlanApi(ApiView):
    @extend_schema(
        operation_id="plan_list",
        responses={200: paginated(s.GoalOutput), **ERRORS},
        summary="The goals agreed with the survivor (AS8-8)",
    )
    @case_endpoint(action="plan.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, selectors.goals_for(case=case))
        return paginator.get_paginated_response(s.GoalOutput(page, many=True).data)

    @extend_schema(
        operation_id="plan_create",
        request=s.GoalInput,
        responses={201: s.GoalOutput, **STALE, **ERRORS},
        summary="Record a goal agreed with the survivor, in their words",
    )
    @case_endpoint(action="plan.add", need=Capability.CASE_WRITE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.GoalInput, request.data)
        goal = services.goal_add(actor=actor, case=case, **data)
        return created(s.GoalOutput(goal).data)


class GoalApi(ApiView):
    @extend_schema(
        operation_id="plan_update",
        request=s.GoalPatchInput,
        responses={200: s.GoalOutput, **STALE, **ERRORS},
        summary="Change a goal or its status; send the version you read",
    )
    @case_endpoint(action="plan.update", need=Capability.CASE_WRITE, writes=True)
    def patch(self, request: Request, goal_id: Any, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.GoalPatchInput, request.data))
        goal = services.goal_update(
            actor=actor,
            case=case,
            goal_id=goal_id,
            expected_version=data.pop("version"),
            changes=data,
        )
        return Response(s.GoalOutput(goal).data)


# --- services ----------------------------------------------------------------------


class ServicesApi(ApiView):
    @extend_schema(
        operation_id="services_list",
        responses={200: paginated(s.ServiceOutput), **ERRORS},
        summary="The services the survivor needs or gets",
    )
    @case_endpoint(action="service.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, selectors.services_for(case=case))
        return paginator.get_paginated_response(s.ServiceOutput(page, many=True).data)

    @extend_schema(
        operation_id="services_create",
        request=s.ServiceInput,
        responses={201: s.ServiceOutput, **STALE, **ERRORS},
        summary="Record a service needed, referred, in progress, provided or declined",
    )
    @case_endpoint(action="service.add", need=Capability.CASE_WRITE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.ServiceInput, request.data)
        service = services.service_add(actor=actor, case=case, **data)
        return created(s.ServiceOutput(service).data)


class ServiceApi(ApiView):
    @extend_schema(
        operation_id="services_update",
        request=s.ServicePatchInput,
        responses={200: s.ServiceOutput, **STALE, **ERRORS},
        summary="Change a service; send the version you read (stale → 409)",
    )
    @case_endpoint(action="service.update", need=Capability.CASE_WRITE, writes=True)
    def patch(self, request: Request, service_id: Any, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.ServicePatchInput, request.data))
        service = services.service_update(
            actor=actor,
            case=case,
            service_id=service_id,
            expected_version=data.pop("version"),
            changes=data,
        )
        return Response(s.ServiceOutput(service).data)


# --- tasks -------------------------------------------------------------------------


class CaseTasksApi(ApiView):
    @extend_schema(
        operation_id="case_tasks_list",
        responses={200: paginated(s.TaskOutput), **ERRORS},
        summary="The team's tasks on this case",
    )
    @case_endpoint(action="task.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, selectors.tasks_for(case=case))
        return paginator.get_paginated_response(s.TaskOutput(page, many=True).data)

    @extend_schema(
        operation_id="case_tasks_create",
        request=s.TaskInput,
        responses={201: s.TaskOutput, **STALE, **ERRORS},
        summary="Add a task, for a member of the case's team or for whoever takes it",
    )
    @case_endpoint(action="task.add", need=Capability.CASE_WRITE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        data = validated(s.TaskInput, request.data)
        task = services.task_add(actor=actor, case=case, **data)
        return created(s.TaskOutput(task).data)


class CaseTaskApi(ApiView):
    @extend_schema(
        operation_id="case_tasks_update",
        request=s.TaskPatchInput,
        responses={200: s.TaskOutput, **STALE, **ERRORS},
        summary="Change a task, or mark it done; send the version you read",
    )
    @case_endpoint(action="task.update", need=Capability.CASE_WRITE, writes=True)
    def patch(self, request: Request, task_id: Any, *, actor: User, case: Case) -> Response:
        data = dict(validated(s.TaskPatchInput, request.data))
        task = services.task_update(
            actor=actor,
            case=case,
            task_id=task_id,
            expected_version=data.pop("version"),
            changes=data,
        )
        return Response(s.TaskOutput(task).data)


# --- referrals made --------------------------------------------------------------


class ReferralStatusApi(ApiView):
    @extend_schema(
        operation_id="referrals_status",
        request=s.ReferralStatusInput,
        responses={200: s.ReferralOutput, **ERRORS},
        summary="Record what the receiving organisation answered",
    )
    @case_endpoint(action="referral.status", need=Capability.CASE_WRITE, writes=True)
    def patch(self, request: Request, referral_id: Any, *, actor: User, case: Case) -> Response:
        data = validated(s.ReferralStatusInput, request.data)
        referral = services.referral_status(
            actor=actor, case=case, referral_id=referral_id, status=data["status"]
        )
        return Response(s.ReferralOutput(referral).data)


# --- attachments -----------------------------------------------------------------


class AttachmentsApi(ApiView):
    parser_classes = [MultiPartParser]
    max_body_bytes = settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    @extend_schema(
        operation_id="attachments_list",
        responses={200: paginated(s.AttachmentOutput), **ERRORS},
        summary="Documents and photos on the case",
    )
    @case_endpoint(action="attachment.list")
    def get(self, request: Request, *, actor: User, case: Case) -> Response:
        paginator, page = self.paginate(request, selectors.attachments_for(case=case))
        return paginator.get_paginated_response(s.AttachmentOutput(page, many=True).data)

    @extend_schema(
        operation_id="attachments_create",
        request={"multipart/form-data": s.AttachmentInput},
        responses={
            201: s.AttachmentOutput,
            403: OpenApiResponse(ERROR, description="consent_required: no consent to photos"),
            **STALE,
            **ERRORS,
        },
        summary="Keep a document or photo, encrypted; image metadata is removed",
        description="A photo needs a consent with scope `photo` in force. JPEG and PNG "
        "images are re-encoded from their pixels (no EXIF, GPS or comments are kept); "
        "documents are PDF, JPEG or PNG.",
    )
    @case_endpoint(action="attachment.add", need=Capability.CASE_WRITE, writes=True)
    def post(self, request: Request, *, actor: User, case: Case) -> Response:
        form: Any = request.data
        data = validated(s.AttachmentInput, {k: form.get(k) for k in ("kind", "title", "file")})
        attachment = services.attachment_add(
            actor=actor,
            case=case,
            kind=data["kind"],
            title=data["title"],
            data=data["file"].read(),
        )
        return created(s.AttachmentOutput(attachment).data)


FILE_TYPES = ("application/pdf", "image/jpeg", "image/png")


class AttachmentApi(DownloadView):
    download_media_types = ("application/octet-stream", *FILE_TYPES)

    @extend_schema(
        operation_id="attachments_download",
        responses={
            **{
                (200, media): OpenApiResponse(OpenApiTypes.BINARY, description="the file")
                for media in ("application/octet-stream", *FILE_TYPES)
            },
            **ERRORS,
        },
        summary="Download a document or photo (every download is recorded)",
    )
    # The service records the download with the attachment's id: one event, not two.
    @case_endpoint(action="attachment.view", writes=True)
    def get(self, request: Request, attachment_id: Any, *, actor: User, case: Case) -> HttpResponse:
        opened = services.attachment_open(actor=actor, case=case, attachment_id=attachment_id)
        media = opened.attachment.media_type
        if wants_bytes(request, media):
            media = "application/octet-stream"
        response = HttpResponse(opened.content, content_type=media)
        response["Content-Disposition"] = (
            f'attachment; filename="attachment-{opened.attachment.pk}"'
        )
        return response
