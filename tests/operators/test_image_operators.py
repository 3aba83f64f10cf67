"""The generic image operators for every model family and route, against the emulator over real HTTP."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath
from PIL import Image
from support import INPUTS, RESULT_KEYS, FakeTI

from airflow_provider_apiframe._compat import AirflowFailException
from airflow_provider_apiframe.core.catalog import (
    BACKGROUND_REMOVE,
    EDIT,
    GENERATE,
    IMAGE_MODELS,
    ROUTE_SCHEMAS,
    UPSCALE,
    models_of,
)
from airflow_provider_apiframe.hooks.apiframe import ApiframeHook
from airflow_provider_apiframe.operators.gpt_image import GptImage2GenerateOperator
from airflow_provider_apiframe.operators.image import (
    ApiframeImageBackgroundRemoveOperator,
    ApiframeImageEditOperator,
    ApiframeImageGenerateOperator,
    ApiframeImageJobOperator,
    ApiframeImageUpscaleOperator,
)
from airflow_provider_apiframe.operators.video import ApiframeVideoGenerateOperator

PRODUCT = INPUTS / "product.png"
PORTRAIT = INPUTS / "portrait.jpg"


def run(op: ApiframeImageJobOperator) -> dict[str, Any]:
    return op.execute({"ti": FakeTI()})  # type: ignore[arg-type]


def fast(**kwargs: Any) -> dict[str, Any]:
    """Operator arguments that wait in the worker and poll quickly."""
    return {"task_id": "draw", "deferrable": False, "poll_interval": 0.05, "timeout": 30, **kwargs}


@pytest.fixture
def image_url(api: Any) -> str:
    """An input image the emulator can fetch (one of its own uploads); the request log is cleared."""
    url = ApiframeHook().upload_image("product.png", PRODUCT.read_bytes(), "image/png").url
    api.state.requests.clear()
    return url


def only_job(api: Any) -> Any:
    (job,) = api.state.jobs.values()
    return job


def submissions(api: Any) -> list[tuple[str, str, int]]:
    return [r for r in api.state.requests if r[0] == "POST"]


# --- the generic operator, family by family -----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "params", "params_key"),
    [
        ("flux-2-pro", {"aspect_ratio": "2:3"}, "fluxParams"),
        ("nano-banana-pro", {"resolution": "1K", "output_format": "png"}, "nanoBananaParams"),
        ("ideogram-v3-quality", {"aspect_ratio": "16:9", "magic_prompt_option": "Off"}, "ideogramParams"),
        ("seedream-4", {"aspect_ratio": "1:1", "enhance_prompt": False, "seed": 7}, "seedreamParams"),
        ("midjourney", None, "midjourneyParams"),
    ],
)
def test_generic_operator_sends_each_family_under_its_params_key(
    api: Any, model: str, params: dict[str, Any] | None, params_key: str
) -> None:
    result = run(
        ApiframeImageGenerateOperator(**fast(model=model, prompt="a lighthouse", model_params=params))
    )

    job = only_job(api)
    expected: dict[str, Any] = {"model": model, "prompt": "a lighthouse"}
    if params is not None:
        expected[params_key] = params
    assert job.body == expected
    assert job.route == GENERATE
    assert set(result) == RESULT_KEYS
    assert result["job_id"] == job.id
    assert result["status"] == "COMPLETED"
    assert result["model"] == model
    assert result["credit_cost"] == job.cost
    assert len(result["images"]) == (4 if model == "midjourney" else 1)  # a Midjourney grid
    assert [(m, p, s) for m, p, s in submissions(api)] == [("POST", GENERATE, 202)]


def test_a_family_output_format_decides_the_saved_file(api: Any, tmp_path: Path) -> None:
    """Seedream's ``jpg`` and Flux's aspect ratio come back as real files."""
    seedream = run(
        ApiframeImageGenerateOperator(
            **fast(
                model="seedream-4",
                prompt="a red kite",
                model_params={"output_format": "jpg"},
                output_path=str(tmp_path),
            )
        )
    )
    (file,) = seedream["files"]
    assert file["path"].endswith(f"{seedream['job_id']}-1.jpeg")
    assert file["content_type"] == "image/jpeg"

    flux = run(
        ApiframeImageGenerateOperator(
            **fast(
                task_id="poster",
                model="flux-2-pro",
                prompt="a travel poster",
                model_params={"aspect_ratio": "2:3", "output_format": "png"},
                output_path=ObjectStoragePath(f"file://{tmp_path}/"),
            )
        )
    )
    (file,) = flux["files"]
    with Image.open(io.BytesIO(Path(file["path"].removeprefix("file://")).read_bytes())) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert height > width  # portrait, 2:3
    assert abs(width / height - 2 / 3) < 0.05


def test_generic_operator_accepts_a_typed_gpt_family_and_validates_it(api: Any) -> None:
    result = run(
        ApiframeImageGenerateOperator(
            **fast(model="gpt-image-2", prompt="a cat", model_params={"quality": "low", "moderation": "low"})
        )
    )
    assert only_job(api).body == {
        "model": "gpt-image-2",
        "prompt": "a cat",
        "gptImage2Params": {"quality": "low", "moderation": "low"},
    }
    assert result["status"] == "COMPLETED"


def test_generic_gpt_image_2_rejects_input_fidelity_naming_it_and_the_allowed_fields(api: Any) -> None:
    op = ApiframeImageGenerateOperator(
        **fast(model="gpt-image-2", prompt="a cat", model_params={"input_fidelity": "high"})
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    assert "model_params.input_fidelity: unknown parameter; allowed: " in message
    allowed = message.split("allowed: ", 1)[1].split("\n")[0]
    assert allowed.split(", ") == sorted(
        [
            "aspect_ratio",
            "background",
            "input_images",
            "moderation",
            "number_of_images",
            "output_format",
            "quality",
        ]
    )
    assert list(api.state.requests) == []


# --- GptImage2GenerateOperator ------------------------------------------------------------------------


def test_gpt_image_2_sends_moderation_and_completes(api: Any) -> None:
    result = run(
        GptImage2GenerateOperator(
            **fast(
                prompt="a city at night",
                moderation="low",
                background="opaque",
                aspect_ratio="3:2",
                quality="low",
                number_of_images=2,
                output_format="jpeg",
            )
        )
    )
    assert only_job(api).body == {
        "model": "gpt-image-2",
        "prompt": "a city at night",
        "gptImage2Params": {
            "moderation": "low",
            "background": "opaque",
            "aspect_ratio": "3:2",
            "quality": "low",
            "number_of_images": 2,
            "output_format": "jpeg",
        },
    }
    assert result["model"] == "gpt-image-2"
    assert len(result["images"]) == 2
    assert all(url.endswith(".jpeg") for url in result["images"])


def test_gpt_image_2_rejects_a_transparent_background_before_any_request(api: Any) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(GptImage2GenerateOperator(**fast(prompt="a logo", background="transparent")))
    message = str(info.value)
    assert "  - background: got 'transparent'; allowed: one of 'auto', 'opaque'" in message
    assert "nothing was sent" in message
    assert list(api.state.requests) == []


def test_gpt_image_2_has_no_input_fidelity_argument() -> None:
    with pytest.raises(TypeError, match="input_fidelity"):
        GptImage2GenerateOperator(task_id="draw", prompt="a cat", input_fidelity="high")


@pytest.mark.parametrize(
    ("argument", "value", "allowed"),
    [
        ("moderation", "strict", "one of 'auto', 'low'"),
        ("number_of_images", 11, "an integer from 1 to 10"),
        ("aspect_ratio", "16:9", "one of '1:1', '3:2', '2:3'"),
    ],
)
def test_gpt_image_2_bad_values_name_the_argument_and_what_is_allowed(
    api: Any, argument: str, value: Any, allowed: str
) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(GptImage2GenerateOperator(**fast(prompt="a cat", **{argument: value})))
    assert f"  - {argument}: got {value!r}; allowed: {allowed}" in str(info.value)
    assert list(api.state.requests) == []


# --- each image route -------------------------------------------------------------------------------


def test_edit_submits_flux_fill_to_the_edit_route(api: Any, image_url: str) -> None:
    params = {"image": image_url, "mask": image_url, "prompt": "add a red hat", "mode": "inpaint"}
    result = run(ApiframeImageEditOperator(**fast(model_params=params)))

    job = only_job(api)
    assert job.route == EDIT
    assert job.body == {"model": "flux-fill-pro", "fluxFillParams": params}
    assert job.inputs == (PRODUCT.read_bytes(), PRODUCT.read_bytes())
    assert submissions(api) == [("POST", EDIT, 202)]
    assert result["status"] == "COMPLETED"
    assert result["model"] == "flux-fill-pro"


@pytest.mark.parametrize(
    ("model", "params_key", "extra"),
    [
        ("topaz-image-upscale", "topazUpscaleParams", {"upscale_factor": 2}),
        ("clarity-upscale", "clarityUpscaleParams", {"scale_factor": 2, "prompt": "sharp details"}),
    ],
)
def test_upscale_models_go_to_the_upscale_route(
    api: Any, image_url: str, model: str, params_key: str, extra: dict[str, Any]
) -> None:
    params = {"image": image_url, **extra}
    result = run(ApiframeImageUpscaleOperator(**fast(model=model, model_params=params)))

    job = only_job(api)
    assert job.route == UPSCALE
    assert job.body == {"model": model, params_key: params}
    assert job.images.size == (2048, 2048)
    assert submissions(api) == [("POST", UPSCALE, 202)]
    assert result["status"] == "COMPLETED"


def test_upscale_defaults_to_topaz(api: Any, image_url: str) -> None:
    run(ApiframeImageUpscaleOperator(**fast(model_params={"image": image_url})))
    assert only_job(api).body == {"model": "topaz-image-upscale", "topazUpscaleParams": {"image": image_url}}


@pytest.mark.parametrize(
    ("model", "params_key", "extra"),
    [
        ("bria-bg-remove", "briaBgRemoveParams", {"content_moderation": False}),
        ("851-bg-remove", "lab851BgRemoveParams", {"background_type": "rgba", "format": "png"}),
    ],
)
def test_background_removal_models_go_to_their_route(
    api: Any, image_url: str, tmp_path: Path, model: str, params_key: str, extra: dict[str, Any]
) -> None:
    params = {"image": image_url, **extra}
    result = run(
        ApiframeImageBackgroundRemoveOperator(**fast(model=model, model_params=params, output_path=tmp_path))
    )

    job = only_job(api)
    assert job.route == BACKGROUND_REMOVE
    assert job.body == {"model": model, params_key: params}
    assert submissions(api) == [("POST", BACKGROUND_REMOVE, 202)]
    (file,) = result["files"]
    with Image.open(file["path"]) as image:
        assert image.mode == "RGBA"  # a transparent background
        assert image.getpixel((0, 0))[3] == 0


def test_background_removal_defaults_to_bria(api: Any, image_url: str) -> None:
    run(ApiframeImageBackgroundRemoveOperator(**fast(model_params={"image": image_url})))
    assert only_job(api).body == {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": image_url}}


# --- refused before any request ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "model", "route"),
    [
        (ApiframeImageUpscaleOperator, "flux-2-pro", UPSCALE),
        (ApiframeImageUpscaleOperator, "bria-bg-remove", UPSCALE),
        (ApiframeImageBackgroundRemoveOperator, "topaz-image-upscale", BACKGROUND_REMOVE),
        (ApiframeImageEditOperator, "gpt-image-1.5", EDIT),
    ],
)
def test_a_model_on_the_wrong_route_fails_naming_model_and_the_allowed_ones(
    api: Any, image_url: str, operator: type[ApiframeImageJobOperator], model: str, route: str
) -> None:
    op = operator(**fast(model=model, model_params={"image": image_url, "prompt": "x", "mode": "inpaint"}))
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    allowed = ", ".join(repr(m) for m in models_of(route))
    assert f"  - model: got {model!r}; allowed on {route}: {allowed}" in message
    assert list(api.state.requests) == []


def test_an_unknown_model_fails_listing_every_model_of_the_route(api: Any) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(ApiframeImageGenerateOperator(**fast(model="flux-9-ultra", prompt="a fox")))
    message = str(info.value)
    assert "  - model: got 'flux-9-ultra'; allowed on /v2/images/generate: " in message
    for model in models_of(GENERATE):
        assert repr(model) in message
    assert "'topaz-image-upscale'" not in message
    assert list(api.state.requests) == []


def test_a_non_string_model_fails_naming_model(api: Any) -> None:
    with pytest.raises(AirflowFailException, match="model: got 42"):
        run(ApiframeImageGenerateOperator(**fast(model=42, prompt="a fox")))
    assert list(api.state.requests) == []


@pytest.mark.parametrize(
    ("operator", "params"),
    [
        (ApiframeImageUpscaleOperator, {"image": "https://img.example.test/a.png"}),
        (ApiframeImageBackgroundRemoveOperator, {"image": "https://img.example.test/a.png"}),
        (
            ApiframeImageEditOperator,
            {"image": "https://img.example.test/a.png", "prompt": "x", "mode": "inpaint"},
        ),
    ],
)
def test_a_prompt_on_a_route_without_top_level_prompts_fails_naming_prompt(
    api: Any, operator: type[ApiframeImageJobOperator], params: dict[str, Any]
) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(operator(**fast(model_params=params, prompt="make it nicer")))
    assert "  - prompt: " in str(info.value)
    assert "inside model_params" in str(info.value)
    assert list(api.state.requests) == []


@pytest.mark.parametrize(
    ("value", "got"),
    [("aspect_ratio=2:3", "str"), (["aspect_ratio", "2:3"], "list"), (7, "int")],
)
def test_model_params_of_the_wrong_type_fails_naming_it(api: Any, value: Any, got: str) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(ApiframeImageGenerateOperator(**fast(model="flux-2-pro", prompt="a fox", model_params=value)))
    assert f"  - model_params: got {got}; allowed: a mapping of parameters" in str(info.value)
    assert list(api.state.requests) == []


def test_model_params_that_are_not_json_fail_naming_them(api: Any) -> None:
    with pytest.raises(AirflowFailException) as info:
        run(
            ApiframeImageGenerateOperator(
                **fast(model="flux-2-pro", prompt="a fox", model_params={"seed": {1, 2}})
            )
        )
    assert "  - model_params: must be JSON-serializable" in str(info.value)
    assert list(api.state.requests) == []


@pytest.mark.parametrize(
    ("operator", "params"),
    [(ApiframeImageBackgroundRemoveOperator, None), (ApiframeImageUpscaleOperator, {})],
)
def test_routes_that_need_params_fail_without_them(
    api: Any, operator: type[ApiframeImageJobOperator], params: Any
) -> None:
    with pytest.raises(AirflowFailException, match="model_params: required for"):
        run(operator(**fast(model_params=params)))
    assert list(api.state.requests) == []


def test_every_problem_is_listed_at_once(api: Any) -> None:
    op = ApiframeImageUpscaleOperator(
        **fast(model_params="nope", prompt="x", webhook_url="hooks.example.test/in")
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    for field in ("prompt", "model_params", "webhook_url"):
        assert f"  - {field}: " in message
    assert list(api.state.requests) == []


# --- every family validated from the contract, before any request ----------------------------------


def _params_of(spec: dict[str, Any], route: str, model: str) -> dict[str, Any]:
    """The contract's parameters block of a model."""
    branches = spec["components"]["schemas"][ROUTE_SCHEMAS[route]]["oneOf"]
    branch = next(b for b in branches if b["properties"]["model"]["enum"] == [model])
    params: dict[str, Any] = branch["properties"][IMAGE_MODELS[model].params_key]
    return params


def test_a_typo_in_any_family_fails_naming_it_and_the_allowed_parameters_before_any_request(
    api: Any, spec: dict[str, Any]
) -> None:
    op = ApiframeImageGenerateOperator(
        **fast(model="flux-2-pro", prompt="a fox", model_params={"aspect_ratioo": "2:3"})
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    assert message.startswith("Invalid Apiframe parameters (nothing was sent):\n")
    allowed = ", ".join(sorted(_params_of(spec, GENERATE, "flux-2-pro")["properties"]))
    assert "\n  - model_params.aspect_ratioo: unknown parameter; allowed: " + allowed in message
    assert "aspect_ratio, " in allowed
    assert "fluxParams" not in message
    assert list(api.state.requests) == [], "the API saw no request"
    assert api.state.jobs == {}


def test_a_bad_value_in_any_family_names_its_field_and_what_is_allowed_before_any_request(
    api: Any, image_url: str
) -> None:
    op = ApiframeImageUpscaleOperator(**fast(model_params={"image": image_url, "upscale_factor": 3}))
    with pytest.raises(AirflowFailException) as info:
        run(op)
    message = str(info.value)
    assert "nothing was sent" in message
    assert "\n  - model_params.upscale_factor: got 3; allowed: one of 1, 2, 4, 6" in message
    assert "topazUpscaleParams" not in message
    assert list(api.state.requests) == [], "the API saw no request"
    assert api.state.jobs == {}


def test_every_problem_of_a_family_is_listed_at_once_by_its_argument_names(api: Any) -> None:
    op = ApiframeImageGenerateOperator(
        **fast(
            model="flux-2-pro",
            prompt="x" * 2001,
            model_params={"seed": 1.5, "width": 10, "input_images": "https://img.example.test/a.png"},
            webhook_events=["done"],
        )
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    problems = [line for line in str(info.value).splitlines() if line.startswith("  - ")]
    assert sorted(problems) == [
        "  - model_params.input_images: got 'https://img.example.test/a.png'; allowed: a list of at most "
        "10 items, each an absolute URI (https://...)",
        "  - model_params.seed: got 1.5; allowed: an integer",
        "  - model_params.width: got 10; allowed: an integer from 256 to 2048",
        "  - prompt: got str of length 2001; allowed: a string of 1 to 2000 characters",
        "  - webhook_events.0: got 'done'; allowed: one of 'progress', 'completed', 'failed'",
    ]
    assert list(api.state.requests) == []


def test_prompt_lengths_are_each_models_own(api: Any) -> None:
    """``wan-image-2.7`` takes prompts of up to 5,000 characters; the others of 2,000."""
    result = run(ApiframeImageGenerateOperator(**fast(model="wan-image-2.7", prompt="x" * 5000)))
    assert result["status"] == "COMPLETED"
    assert only_job(api).body == {"model": "wan-image-2.7", "prompt": "x" * 5000}
    with pytest.raises(AirflowFailException) as info:
        run(ApiframeImageGenerateOperator(**fast(model="wan-image-2.7", prompt="x" * 5001)))
    assert "  - prompt: got str of length 5001; allowed: a string of 1 to 5000 characters" in str(info.value)
    with pytest.raises(AirflowFailException) as info:
        run(ApiframeImageGenerateOperator(**fast(model="wan-image-2.6", prompt="x" * 2001)))
    assert "  - prompt: got str of length 2001; allowed: a string of 1 to 2000 characters" in str(info.value)
    assert submissions(api) == [("POST", GENERATE, 202)]


# --- local inputs inside model_params -----------------------------------------------------------------


def _upload_urls(api: Any) -> list[str]:
    return [f"{api.url}/uploads/{upload_id}" for upload_id in api.state.uploads]


def test_a_local_path_inside_model_params_is_uploaded(api: Any) -> None:
    result = run(ApiframeImageBackgroundRemoveOperator(**fast(model_params={"image": str(PORTRAIT)})))

    (url,) = _upload_urls(api)
    job = only_job(api)
    assert job.body == {"model": "bria-bg-remove", "briaBgRemoveParams": {"image": url}}
    assert job.inputs == (PORTRAIT.read_bytes(),)
    assert [(data, kind) for data, kind, _ in api.state.uploads.values()] == [
        (PORTRAIT.read_bytes(), "image/jpeg")
    ]
    assert result["status"] == "COMPLETED"


def test_local_images_in_list_fields_and_several_fields_are_uploaded(api: Any, image_url: str) -> None:
    params = {
        "image": ObjectStoragePath(f"file://{PORTRAIT}"),
        "prompt": "make it autumn",
        "mode": "inpaint",
        "mask": str(PRODUCT),
    }
    run(ApiframeImageEditOperator(**fast(model_params=params)))
    _, portrait_url, product_url = _upload_urls(api)  # the first is the fixture's
    job = only_job(api)
    assert job.body["fluxFillParams"] == {
        "image": portrait_url,
        "prompt": "make it autumn",
        "mode": "inpaint",
        "mask": product_url,
    }
    assert job.inputs == (PORTRAIT.read_bytes(), PRODUCT.read_bytes())


def test_a_list_of_local_images_for_nano_banana_is_uploaded(api: Any, image_url: str) -> None:
    run(
        ApiframeImageGenerateOperator(
            **fast(
                model="nano-banana",
                prompt="combine them",
                model_params={"image_input": [image_url, str(PORTRAIT)], "output_format": "png"},
            )
        )
    )
    _, portrait_url = _upload_urls(api)
    job = only_job(api)
    assert job.body["nanoBananaParams"]["image_input"] == [image_url, portrait_url]
    assert job.inputs == (PRODUCT.read_bytes(), PORTRAIT.read_bytes())


def test_a_typed_family_through_the_generic_operator_uploads_its_input_images(api: Any) -> None:
    run(
        ApiframeImageGenerateOperator(
            **fast(model="gpt-image-1.5", prompt="recolour it", model_params={"input_images": str(PRODUCT)})
        )
    )
    (url,) = _upload_urls(api)
    assert only_job(api).body["gptImageParams"] == {"input_images": [url]}


def test_templated_model_params_keep_storage_paths_and_render_strings(api: Any) -> None:
    import jinja2

    op = ApiframeImageEditOperator(
        **fast(
            model_params={
                "image": ObjectStoragePath(f"file://{PRODUCT}"),
                "prompt": "paint it {{ params.colour }}",
                "mode": "inpaint",
            }
        )
    )
    op.render_template_fields({"params": {"colour": "blue"}}, jinja_env=jinja2.Environment())  # type: ignore[arg-type]
    run(op)
    (url,) = _upload_urls(api)
    assert only_job(api).body["fluxFillParams"] == {
        "image": url,
        "prompt": "paint it blue",
        "mode": "inpaint",
    }


def test_a_bad_local_image_in_model_params_names_its_dotted_field(api: Any, tmp_path: Path) -> None:
    op = ApiframeImageGenerateOperator(
        **fast(
            model="ideogram-v3-quality",
            prompt="a poster",
            model_params={"style_reference_images": [str(PRODUCT), str(tmp_path / "gone.png")]},
        )
    )
    with pytest.raises(AirflowFailException) as info:
        run(op)
    assert "  - model_params.style_reference_images.1: " in str(info.value)
    assert "does not exist" in str(info.value)
    assert list(api.state.requests) == []


def test_fields_that_are_not_image_fields_are_sent_as_given(api: Any) -> None:
    """A path-like string in a non-image field is the user's text, never read from disk."""
    run(
        ApiframeImageGenerateOperator(
            **fast(
                model="ideogram-v3-quality", prompt="a poster", model_params={"negative_prompt": str(PRODUCT)}
            )
        )
    )
    assert only_job(api).body["ideogramParams"] == {"negative_prompt": str(PRODUCT)}
    assert api.state.uploads == {}


# --- the catalogue's image fields against the contract -----------------------------------------------


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _takes_urls(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Whether a property is a URI, or an array (possibly nullable) of URIs."""
    schema = _resolve(spec, schema)
    if schema.get("format") == "uri":
        return True
    if any(_takes_urls(spec, option) for option in schema.get("anyOf", []) + schema.get("oneOf", [])):
        return True
    types = schema.get("type")
    is_array = types == "array" or (isinstance(types, list) and "array" in types)
    return is_array and _takes_urls(spec, schema.get("items", {}))


def test_operators_stage_exactly_the_catalogue_media_fields() -> None:
    op = ApiframeImageGenerateOperator(task_id="t", model="ideogram-v3-quality", prompt="p")
    fields = IMAGE_MODELS["ideogram-v3-quality"].media_fields
    assert [f for f, _ in fields] == ["character_reference_image", "image", "mask", "style_reference_images"]
    assert op.media_input_paths == tuple((f"model_params.{f}", "image") for f, _ in fields)
    assert (
        ApiframeImageGenerateOperator(task_id="t", model="no-such-model", prompt="p").media_input_paths == ()
    )
    assert GptImage2GenerateOperator(task_id="t", prompt="p").media_input_paths == (
        ("input_images", "image"),
    )
    video = ApiframeVideoGenerateOperator(task_id="v", model="seedance-2", prompt="p")
    assert dict(video.media_input_paths) == {
        "model_params.end_image": "image",
        "model_params.reference_audio_urls": "audio",
        "model_params.reference_image_urls": "image",
        "model_params.reference_video_urls": "video",
        "model_params.start_image": "image",
    }
