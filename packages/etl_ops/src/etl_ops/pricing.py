"""The dated price table the cost model uses: on-demand list prices, us-east-1, no free tier.

Every price names the public page it comes from. Prices change: the table carries its date, and
`etl cost` prints it with every estimate. To price another region, add an entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2026-12-01"

LAMBDA_PAGE = "https://aws.amazon.com/lambda/pricing/"
SFN_PAGE = "https://aws.amazon.com/step-functions/pricing/"
APIGW_PAGE = "https://aws.amazon.com/api-gateway/pricing/"
SNS_PAGE = "https://aws.amazon.com/sns/pricing/"
SQS_PAGE = "https://aws.amazon.com/sqs/pricing/"
DYNAMODB_PAGE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
S3_PAGE = "https://aws.amazon.com/s3/pricing/"


@dataclass(frozen=True)
class Price:
    """One unit price in USD."""

    usd: float
    per: float  # how many units the price is for (1 for "per GB-second", 1e6 for "per million")
    unit: str
    source: str

    @property
    def each(self) -> float:
        return self.usd / self.per


@dataclass(frozen=True)
class PriceTable:
    region: str
    arch: str
    lambda_request: Price
    lambda_gb_second: Price
    durable_operation: Price
    durable_data_written_gb: Price
    durable_data_retained_gb_month: Price
    state_transition: Price
    api_request: Price
    sns_publish: Price
    sns_email: Price
    sqs_request: Price
    dynamodb_write_unit: Price
    dynamodb_read_unit: Price
    s3_put_class: Price  # PUT, COPY, POST, LIST (and multipart part uploads)
    s3_get_class: Price  # GET, HEAD (DELETE is free)

    def items(self) -> list[tuple[str, Price]]:
        return [
            (name, getattr(self, name))
            for name in self.__dataclass_fields__
            if name not in ("region", "arch")
        ]


def _us_east_1(arch: str, gb_second_usd: float) -> PriceTable:
    return PriceTable(
        region="us-east-1",
        arch=arch,
        lambda_request=Price(0.20, 1e6, "request", LAMBDA_PAGE),
        lambda_gb_second=Price(gb_second_usd, 1, "GB-second", LAMBDA_PAGE),
        durable_operation=Price(8.00, 1e6, "durable operation", LAMBDA_PAGE),
        durable_data_written_gb=Price(0.25, 1, "GB written", LAMBDA_PAGE),
        durable_data_retained_gb_month=Price(0.15, 1, "GB-month retained", LAMBDA_PAGE),
        state_transition=Price(0.025, 1e3, "state transition (Standard)", SFN_PAGE),
        api_request=Price(3.50, 1e6, "REST API request", APIGW_PAGE),
        sns_publish=Price(0.50, 1e6, "publish request", SNS_PAGE),
        sns_email=Price(2.00, 1e5, "e-mail notification", SNS_PAGE),
        sqs_request=Price(0.40, 1e6, "standard queue request", SQS_PAGE),
        dynamodb_write_unit=Price(0.625, 1e6, "write request unit", DYNAMODB_PAGE),
        dynamodb_read_unit=Price(0.125, 1e6, "read request unit", DYNAMODB_PAGE),
        s3_put_class=Price(0.005, 1e3, "PUT/COPY/POST/LIST request", S3_PAGE),
        s3_get_class=Price(0.0004, 1e3, "GET/HEAD request", S3_PAGE),
    )


TABLES: dict[tuple[str, str], PriceTable] = {
    ("us-east-1", "arm64"): _us_east_1("arm64", 0.0000133334),
    ("us-east-1", "x86_64"): _us_east_1("x86_64", 0.0000166667),
}


def table(region: str = "us-east-1", arch: str = "arm64") -> PriceTable:
    try:
        return TABLES[(region, arch)]
    except KeyError:
        known = ", ".join(f"{r}/{a}" for r, a in TABLES)
        raise ValueError(f"no prices for {region}/{arch}; known: {known}") from None
