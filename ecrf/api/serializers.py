"""API shapes of participants (API contract, Core flow)."""

from __future__ import annotations

from rest_framework import serializers

from ecrf.participants.models import Participant


class ParticipantCreateSerializer(serializers.Serializer):
    site = serializers.CharField(max_length=8, help_text="Site code, e.g. S01.")
    screening_date = serializers.DateField()
    birth_date = serializers.DateField()


class ParticipantUpdateSerializer(serializers.Serializer):
    screening_date = serializers.DateField(required=False)
    birth_date = serializers.DateField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ParticipantSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code", read_only=True)

    class Meta:
        model = Participant
        fields = [
            "id",
            "subject_id",
            "site",
            "status",
            "screening_date",
            "birth_date",
            "registered_at",
        ]
        read_only_fields = fields
