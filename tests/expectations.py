"""Facts labelled by hand from the real pages in ../shared/corpus (read, not computed).

Each set is what the page prints for an API × condition × variant. Tests compare the KB with
these; when a test fails, read the page again before touching either side.
"""

ROLES = "sagemaker-roles"  # the page the labels below come from (its key in data/sources.toml)

VPC = {
    "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
}
KMS = {"kms_input": {"kms:Decrypt"}, "kms_output": {"kms:Encrypt"}, "kms_volume": {"kms:CreateGrant"}}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:DescribeLogStreams"}
ECR_PULL = {"ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"}
JOB_MAIN = {"cloudwatch:PutMetricData", *LOGS, "s3:GetObject", "s3:PutObject", "s3:ListBucket",
            "ecr:GetAuthorizationToken", *ECR_PULL}
PASSROLE = {"iam:PassRole"}

AUTOML_MAIN = PASSROLE | {
    "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel", "sagemaker:InvokeEndpoint", "sagemaker:ListTags",
    "sagemaker:DescribeEndpoint", "sagemaker:CreateModel", "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint", "sagemaker:DeleteModel", "sagemaker:DeleteEndpointConfig",
    "sagemaker:DeleteEndpoint", "cloudwatch:PutMetricData", *LOGS, "s3:GetObject", "s3:PutObject", "s3:ListBucket",
    "ecr:GetAuthorizationToken", *ECR_PULL,
}
NOTEBOOK_MAIN = PASSROLE | {
    "sagemaker:*", "ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
    "ecr:BatchCheckLayerAvailability", "ecr:SetRepositoryPolicy", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage",
    "ecr:UploadLayerPart", "ecr:DeleteRepositoryPolicy", "ecr:InitiateLayerUpload", "ecr:DeleteRepository",
    "ecr:PutImage", "ecr:CreateRepository", "cloudwatch:PutMetricData", "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics", "logs:CreateLogGroup", "logs:CreateLogStream",
    "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "s3:CreateBucket", "s3:ListBucket",
    "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
    "robomaker:CreateSimulationApplication", "robomaker:DescribeSimulationApplication",
    "robomaker:DeleteSimulationApplication", "robomaker:CreateSimulationJob", "robomaker:DescribeSimulationJob",
    "robomaker:CancelSimulationJob", "ec2:CreateVpcEndpoint", "ec2:DescribeRouteTables",
    "elasticfilesystem:DescribeMountTargets", "codecommit:GitPull", "codecommit:GitPush",
}
NOTEBOOK_SCOPED = PASSROLE | {
    "sagemaker:*", "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "logs:CreateLogGroup",
    "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "s3:ListBucket",
    "s3:GetObject", "s3:PutObject", "s3:DeleteObject", *ECR_PULL,
}
MODEL_MAIN = {"cloudwatch:PutMetricData", *LOGS, "s3:GetObject", "s3:ListBucket", "ecr:GetAuthorizationToken", *ECR_PULL}
MODEL_SCOPED = MODEL_MAIN - {"s3:ListBucket"}
IMAGE_EN = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
DOMAIN_KMS = {"kms:CreateGrant", "kms:DescribeKey"}


def _job(extra_conditions=None):
    conds = {"vpc": VPC, **KMS, **(extra_conditions or {})}
    return {"default": JOB_MAIN, "scoped": JOB_MAIN, "conditions": conds}


# api → {"default": main policy, "scoped": scoped variant (None: the page has none),
#        "conditions": {key: additions}, "main_condition": key the main policy depends on}
EN = {
    "CreateAutoMLJob": {"default": AUTOML_MAIN, "scoped": None, "conditions": {"vpc": VPC, **KMS}},
    "CreateAutoMLJobV2": {"default": AUTOML_MAIN, "scoped": None, "conditions": {"vpc": VPC, **KMS}},
    "CreateDomain": {"default": DOMAIN_KMS, "scoped": None, "conditions": {}, "main_condition": "kms_domain"},
    "CreateImage": {"default": IMAGE_EN, "scoped": None, "conditions": {}},
    "UpdateImage": {"default": IMAGE_EN, "scoped": None, "conditions": {}},
    "CreateNotebookInstance": {"default": NOTEBOOK_MAIN, "scoped": NOTEBOOK_SCOPED, "conditions": {}},
    "CreateHyperParameterTuningJob": _job(),
    "CreateProcessingJob": _job(),
    "CreateTrainingJob": _job({"algorithm": {"sagemaker:DescribeAlgorithm"}}),
    "CreateModel": {"default": MODEL_MAIN, "scoped": MODEL_SCOPED,
                    "conditions": {"vpc": VPC, "guardrails": {"cloudwatch:DescribeAlarms"}}},
}

# The Japanese page lags: no CreateAutoMLJobV2, no AlgorithmArn condition; its CreateImage
# policy still carries the iam:PassRole statement the English page dropped.
JA = {api: facts for api, facts in EN.items() if api != "CreateAutoMLJobV2"}
JA["CreateTrainingJob"] = _job()
JA["CreateImage"] = JA["UpdateImage"] = {"default": IMAGE_EN | PASSROLE, "scoped": None, "conditions": {}}

PASSROLE_EN = [
    "CreateAutoMLJob", "CreateCompilationJob", "CreateDomain", "CreateFeatureGroup", "CreateFlowDefinition",
    "CreateHyperParameterTuningJob", "CreateImage", "CreateLabelingJob", "CreateModel", "CreateMonitoringSchedule",
    "CreateNotebookInstance", "CreateProcessingJob", "CreateTrainingJob", "CreateUserProfile", "RenderUiTemplate",
    "UpdateImage", "UpdateNotebookInstance",
]
PASSROLE_JA = PASSROLE_EN[:-1]

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}

# (request API, field as printed, actions) per section, from the "scope the policy as follows"
# bullets; the same on both pages.
_S3_OBJ_NB = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
_ECR = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
_LOGS_SCOPED = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup", "logs:DescribeLogStreams"]
SCOPING = {
    "CreateNotebookInstance": [
        ("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", ["s3:ListBucket"]),
        ("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", _S3_OBJ_NB),
        ("CreateTrainingJob", "OutputDataConfig.S3OutputPath", _S3_OBJ_NB),
        ("CreateModel", "PrimaryContainer.ModelDataUrl", _S3_OBJ_NB),
        ("CreateModel", "SuplementalContainers.ModelDataUrl", _S3_OBJ_NB),
        ("CreateTrainingJob", "AlgorithmSpecification.TrainingImage", _ECR),
        ("CreateModel", "PrimaryContainer.Image", _ECR),
    ],
    "CreateHyperParameterTuningJob": [
        ("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", ["s3:ListBucket"]),
        ("CreateHyperParameterTuningJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", ["s3:GetObject", "s3:PutObject"]),
        ("CreateHyperParameterTuningJob", "OutputDataConfig.S3OutputPath", ["s3:GetObject", "s3:PutObject"]),
        ("CreateHyperParameterTuningJob", "AlgorithmSpecification.TrainingImage", _ECR),
        (None, None, _LOGS_SCOPED),
    ],
    "CreateProcessingJob": [
        ("CreateProcessingJob", "ProcessingInputs", ["s3:ListBucket"]),
        ("CreateProcessingJob", "ProcessingInputs", ["s3:GetObject", "s3:PutObject"]),
        ("CreateProcessingJob", "ProcessingOutputConfig", ["s3:GetObject", "s3:PutObject"]),
        ("CreateProcessingJob", "AppSpecification.ImageUri", _ECR),
    ],
    "CreateTrainingJob": [
        ("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", ["s3:ListBucket"]),
        ("CreateTrainingJob", "InputDataConfig.DataSource.S3DataSource.S3Uri", ["s3:GetObject", "s3:PutObject"]),
        ("CreateTrainingJob", "OutputDataConfig.S3OutputPath", ["s3:GetObject", "s3:PutObject"]),
        ("CreateTrainingJob", "AlgorithmSpecification.TrainingImage", _ECR),
    ],
    "CreateModel": [
        ("CreateModel", "PrimaryContainer.ModelDataUrl", ["s3:GetObject"]),
        ("CreateModel", "PrimaryContainer.Image", _ECR),
        ("CreateModel", "SecondaryContainer.Image", _ECR),
    ],
}

# The errata both pages print, as printed, with the finding kind that reports them.
ERRATA = {
    ("api_name_typo", "CreateFlowDefiniton"),
    ("unknown_request_field", "SuplementalContainers.ModelDataUrl"),
    ("unknown_request_field", "SecondaryContainer.Image"),
    ("unknown_request_field", "AlgorithSpecifications.TrainingImage"),
}
# Only the English page has the algorithm paragraph; it names the member
# `AlgorithmSpecification.AlgorithmArn`, which CreateTrainingJob's request does not have
# (it is AlgorithmName, "the name or ARN of the algorithm resource").
ERRATA_EN = ERRATA | {("unknown_request_field", "AlgorithmSpecification.AlgorithmArn")}

# API sections per dated revision (from each revision's "## … API(s): Execution Role Permissions").
_BASE = {"CreateImage", "UpdateImage", "CreateNotebookInstance", "CreateHyperParameterTuningJob",
         "CreateProcessingJob", "CreateTrainingJob", "CreateModel"}
HISTORY_APIS = {
    "2020-11-02_2b764d9": _BASE,
    **{rev: _BASE | {"CreateDomain"} for rev in ("2020-12-10_9396034", "2021-01-29_c6203c7", "2021-06-01_dae6279")},
    **{rev: _BASE | {"CreateDomain", "CreateAutoMLJob"} for rev in (
        "2021-06-25_f5bc5e7", "2021-09-14_c778b34", "2021-10-04_217d444", "2021-10-08_00adebd", "2022-02-15_fffa4f1",
        "2022-03-04_1caf36f", "2022-03-11_57945bf", "2022-05-20_a41d937", "2022-07-01_f3aad01", "2022-08-05_c905c9c",
        "2022-12-09_53d2932", "2023-02-18_e83cf46", "2023-03-10_0a58b94")},
}


PAGES = {"en": EN, "ja": JA}


def page_cases():
    """(lang, api, facts) for every API section of both pages, for parametrized tests."""
    for lang, apis in PAGES.items():
        for api, facts in apis.items():
            yield lang, api, facts


# ---- the guide's own pages (data/guide/sagemaker-dg/en/doc_source), read by hand ---------------

# host-vpc.md "Add Permissions for Endpoint Access for Containers Running in a VPC to Custom IAM
# Policies": the roles page's nine VPC actions and ec2:DescribeVpcEndpoints, which it does not list.
HOST_VPC = VPC | {"ec2:DescribeVpcEndpoints"}
# batch-vpc.md "Configure a Batch Transform Job for Amazon VPC Access": CreateModel's VPC permissions again.
BATCH_VPC = VPC

# What the guide's other pages add to a roles-page API × condition (English only: the guide is not
# translated here). Every other labelled API × condition × variant is the same across all pages.
GUIDE_ADDITIONS = {("CreateModel", "vpc"): HOST_VPC - VPC}


def across_pages(lang: str, api: str, conditions) -> set[str]:
    """The actions the other current pages add for `api` with `conditions` in `lang`."""
    if lang != "en":
        return set()
    return set().union(*(GUIDE_ADDITIONS.get((api, c), set()) for c in conditions))
