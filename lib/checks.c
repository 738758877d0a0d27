/* The check-code table: one row per code, the text people see. */
#include <stddef.h>

#include "checks.h"
#include "jcm/jcm.h"

static const jcm_code_info codes[] = {
    {C_MALFORMED, "malformed", "the request is not well-formed JSON"},
    {C_MISSING, "missing", "a required field is missing"},
    {C_TYPE, "type", "a field has the wrong type"},
    {C_RANGE, "range", "a number is out of its allowed range"},
    {C_TOO_LONG, "too_long", "a text field is longer than allowed"},
    {C_UNKNOWN_CMD, "unknown_command", "no such command"},
    {C_FORMAT, "format", "an identifier does not have the required form"},
    {C_DATE, "date", "not a valid calendar date (YYYY-MM-DD)"},
    {C_IDEM_CONFLICT, "idempotency_conflict", "the idempotency key was used before for a different command"},
    {C_UNKNOWN_FIELD, "unknown_field", "the request has a field this command does not take"},
    {C_CHECK_DIGITS, "check_digits", "the account identifier's check digits are wrong (mistyped id)"},
    {C_ENUM, "enum", "the value is not one of those allowed"},
    {C_EXISTS, "exists", "an entity with this identifier exists already"},
    {C_NOT_INITIALIZED, "not_initialized", "the registry has not been initialized"},
    {C_ALREADY_INITIALIZED, "already_initialized", "the registry is initialized already"},
    {C_UNKNOWN_PARTY, "unknown_party", "no such Party"},
    {C_UNKNOWN_ORG, "unknown_organisation", "no such organisation"},
    {C_DUPLICATE, "duplicate", "the same item is listed twice"},
    {C_TOO_MANY, "too_many", "the list has more items than allowed"},
    {C_UNKNOWN_COOP, "unknown_cooperative_approach", "no such cooperative approach"},
    {C_UNKNOWN_ACCOUNT, "unknown_account", "no such account"},
    {C_STATUS_CHANGE, "status_change", "the account cannot change to that status from its current one"},
    {C_UNKNOWN_TX, "unknown_transaction", "no such transaction"},
    {C_CONFLICT, "conflict", "fields were given together that exclude each other"},
    {C_SRC_UNKNOWN, "source_unknown", "the source account does not exist"},
    {C_SRC_NOT_OPEN, "source_not_open", "the source account is blocked or closed"},
    {C_SRC_TYPE, "source_type", "units cannot leave an account of this type"},
    {C_SRC_FOREIGN, "source_foreign", "the source account belongs to another registry"},
    {C_DST_UNKNOWN, "destination_unknown", "the destination account does not exist"},
    {C_DST_NOT_OPEN, "destination_not_open", "the destination account is blocked or closed"},
    {C_DST_TYPE, "destination_type", "an account of this type cannot receive these units"},
    {C_DST_SAME, "destination_same", "source and destination are the same account"},
    {C_DST_FOREIGN, "destination_foreign", "the destination account belongs to another registry"},
    {C_DST_NONE, "destination_none", "the registry has no open account of the type this needs"},
    {C_INSUFFICIENT, "insufficient", "the source holds fewer unreserved units than requested"},
    {C_NOT_HELD, "not_held", "the source account does not hold these serials"},
    {C_RESERVED, "reserved", "the units are reserved by a pending transaction"},
    {C_BAD_RANGE, "bad_range", "a serial range is empty or inverted"},
    {C_QTY_MISMATCH, "quantity_mismatch", "the quantity does not equal the units in the ranges"},
    {C_SERIALS_EXHAUSTED, "serials_exhausted", "the registry's serial-number space cannot hold this issuance"},
    {C_OVERLAP, "overlap", "serial ranges in the request overlap"},
    {C_UNKNOWN_PROJECT, "unknown_project", "no such project or PIN"},
    {C_PROJECT_STATUS, "project_status", "the project's status does not allow this step"},
    {C_UNKNOWN_METHODOLOGY, "unknown_methodology", "no such methodology version"},
    {C_METHODOLOGY_STATUS, "methodology_status", "the methodology's status does not allow this"},
    {C_PERIOD_OVERLAP, "period_overlap", "the monitoring period overlaps another of the project"},
    {C_PERIOD_NOT_VERIFIED, "period_not_verified", "the monitoring period has not been verified"},
    {C_PERIOD_ISSUED, "period_issued", "units were issued for this monitoring period already"},
    {C_OVER_VERIFIED, "over_verified", "the issuance exceeds the verified emission reductions"},
    {C_ALLOCATION_SUM, "allocation_sum", "the allocation does not add up to the total"},
    {C_UNKNOWN_PERIOD, "unknown_period", "no such monitoring period"},
    {C_VERIFIED_OVER_CALCULATED, "verified_over_calculated", "verified reductions exceed those calculated"},
    {C_PERIOD_DATES, "period_dates", "the period ends before it starts"},
    {C_VINTAGE, "vintage", "the vintage is not a year of the monitoring period"},
    {C_DECISION_KIND, "decision_kind", "this decision kind is recorded by another command"},
    {C_FOREIGN_PROJECT, "foreign_project",
     "the project is hosted by another Party: its units are issued in that Party's registry"},
    {C_CALCULATION, "calculation",
     "the calculated reductions disagree with electricity x emission factor, rounded down"},
    {C_PREFIX, "prefix", "the project or PIN id does not start with the host Party's two-letter code"},
    {C_AEF_OVERLAP, "aef_overlap", "two rows of one kind in the AEF report hold the same serials"},
    {C_AEF_QUANTITY, "aef_quantity",
     "an AEF range is empty or inverted, so its quantity is not Last ID - First ID + 1"},
    {C_AEF_UNKNOWN_AUTH, "aef_unknown_authorization",
     "an AEF action or holding refers to an authorization version that does not exist"},
    {C_AEF_UNKNOWN_COOP, "aef_unknown_cooperative_approach",
     "an AEF action refers to a cooperative approach that does not exist or is not its authorization's"},
    {C_AEF_AFTER_USE, "aef_after_use", "an AEF action on units already used or cancelled"},
    {C_AEF_SECOND_FIRST_TRANSFER, "aef_second_first_transfer", "units first transferred a second time"},
    {C_AEF_HOLDINGS, "aef_holdings",
     "holdings at the end of the year are not those at its start plus the year's actions"},
    {C_AEF_CONTROLLED, "aef_controlled_value", "a value is not one of the AEF's controlled values"},
    {C_AEF_UNKNOWN_ENTITY, "aef_unknown_entity", "an authorized entity is not a known organisation"},
    {C_ROLE, "role", "the actor's role may not do this"},
    {C_NOT_HOLDER, "not_holder", "the actor does not hold the account"},
    {C_UNKNOWN_ROLE, "unknown_role", "no such role"},
};

const jcm_code_info *jcm_codes(size_t *count) {
  *count = sizeof codes / sizeof codes[0];
  return codes;
}

const char *jcm_code_text(int code) {
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (codes[i].code == code) return codes[i].text;
  return "unknown check";
}
