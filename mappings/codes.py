"""Code systems and naming systems the hub uses in its FHIR forms (data, not logic)."""

from __future__ import annotations

BASE = "https://fdhub.example.cn/fhir"

# Identifier systems (NamingSystem URIs)
ID_CARD = "urn:oid:2.16.156.10011.1.3"  # 居民身份证号 (WS 364 identifier type 01)
INSURANCE_CARD = f"{BASE}/sid/insurance-card"
HEALTH_RECORD_NO = f"{BASE}/sid/health-record-no"
BIRTH_CERTIFICATE_NO = f"{BASE}/sid/birth-certificate-no"
ORGANIZATION = f"{BASE}/sid/organization"
PRACTITIONER = f"{BASE}/sid/practitioner"
SOURCE_RECORD = f"{BASE}/sid/source"  # + "/<source system>"

IDENTIFIER_SYSTEMS = {
    "ID_CARD": ID_CARD,
    "INSURANCE_CARD": INSURANCE_CARD,
    "HEALTH_RECORD_NO": HEALTH_RECORD_NO,
    "BIRTH_CERTIFICATE_NO": BIRTH_CERTIFICATE_NO,
}

# GB/T 2261.1 sex -> FHIR administrative gender
GB2261_SYSTEM = "urn:oid:2.16.156.10011.2.3.3.4"
GB2261 = {
    "0": ("unknown", "未知的性别"),
    "1": ("male", "男性"),
    "2": ("female", "女性"),
    "9": ("unknown", "未说明的性别"),
}
GENDER_TO_GB2261 = {"male": "1", "female": "2", "unknown": "0", "other": "9"}

GB2260_SYSTEM = "urn:oid:2.16.156.10011.2.3.3.1"  # 行政区划代码

INSURANCE_TYPE_SYSTEM = f"{BASE}/CodeSystem/insurance-type"
POPULATION_CATEGORY_SYSTEM = f"{BASE}/CodeSystem/population-category"
ORGANIZATION_KIND_SYSTEM = f"{BASE}/CodeSystem/organization-kind"
PRACTITIONER_ROLE_SYSTEM = f"{BASE}/CodeSystem/practitioner-role"
EXT_INSURANCE_TYPE = f"{BASE}/StructureDefinition/insurance-type"
EXT_POPULATION_CATEGORY = f"{BASE}/StructureDefinition/population-category"

ORGANIZATION_KIND_DISPLAY = {
    "COMMUNITY_HEALTH_CENTER": "社区卫生服务中心",
    "COMMUNITY_HEALTH_STATION": "社区卫生服务站",
    "TOWNSHIP_HEALTH_CENTER": "乡镇卫生院",
    "VILLAGE_CLINIC": "村卫生室",
    "SECONDARY_HOSPITAL": "二级医院",
    "TERTIARY_HOSPITAL": "三级医院",
    "MATERNAL_CHILD_HOSPITAL": "妇幼保健院",
}
PRACTITIONER_ROLE_DISPLAY = {
    "GP": "全科医生",
    "ASSISTANT_GP": "助理全科医生",
    "TCM_GP": "中医全科医生",
    "VILLAGE_DOCTOR": "乡村医生",
    "NURSE": "护士",
    "PUBLIC_HEALTH_PHYSICIAN": "公卫医生",
    "SPECIALIST": "专科医生",
    "PHARMACIST": "药师",
    "HEALTH_MANAGER": "健康管理师",
    "PSYCHOLOGIST": "心理咨询师",
    "SOCIAL_WORKER": "社工",
}
GUARDIAN_RELATION = "http://terminology.hl7.org/CodeSystem/v2-0131"
