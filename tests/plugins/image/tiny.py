"""Tiny random-weight diffusers pipelines (SD 1.x, SDXL, FLUX) saved to a directory.

Components are built under ``torch.manual_seed(0)`` from configs a couple of blocks
deep and a few channels wide, the way diffusers' own ``get_dummy_components`` do.
The VAEs keep four blocks so their scale factor is 8, as in the real models, which
makes the size rules (multiples of 8, 16 for FLUX) the real ones. Tokenizers are
made here from a hand-written vocabulary: nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

CLIP_HIDDEN = 32
VOCAB_SIZE = 1000


def clip_tokenizer():
    """A CLIP BPE tokenizer whose vocabulary is the 256 byte symbols (no merges)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in sorted(ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def t5_tokenizer():
    """A T5 unigram tokenizer over single letters and digits."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    pieces += [("▁" + c, -2.5) for c in "abcdefghijklmnopqrstuvwxyz"]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=64)


def _clip_text_encoder(with_projection: bool = False, projection_dim: int = 32):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=CLIP_HIDDEN,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=VOCAB_SIZE,
        projection_dim=projection_dim,
        hidden_act="gelu",
    )
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return cls(config).eval()


def _vae(latent_channels: int = 4, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=[4, 4, 4, 4],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=latent_channels,
        layers_per_block=1,
        norm_num_groups=2,
        sample_size=32,
        **extra,
    ).eval()


# the smallest UNet both SD and SDXL accept: two blocks of 4 and 8 channels, 8x8 latents
TINY_UNET = {
    "block_out_channels": (4, 8),
    "layers_per_block": 1,
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
}


def build_sd(path: Path, full_unet: bool = False) -> Path:
    """Save a tiny Stable Diffusion 1.x pipeline under ``path``.

    ``full_unet``: a full-size SD 1.5 UNet (its default config, random weights, ~860 M
    parameters) with the tiny text encoder and VAE, for GPU benchmarks that need real load.
    """
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    if full_unet:
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=CLIP_HIDDEN).eval()
    else:
        unet = UNet2DConditionModel(
            **TINY_UNET,
            cross_attention_dim=CLIP_HIDDEN,
            norm_num_groups=2,
            attention_head_dim=2,
        ).eval()
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=_vae(),
        text_encoder=_clip_text_encoder(),
        tokenizer=clip_tokenizer(),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)
    return path


def build_sdxl(path: Path) -> Path:
    """Save a tiny SDXL pipeline under ``path``."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        **TINY_UNET,
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,  # 6 * 8 + 32
        cross_attention_dim=2 * CLIP_HIDDEN,
        norm_num_groups=2,
    ).eval()
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="leading",
        steps_offset=1,
    )
    pipe = StableDiffusionXLPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=_vae(),
        text_encoder=_clip_text_encoder(),
        tokenizer=clip_tokenizer(),
        text_encoder_2=_clip_text_encoder(with_projection=True, projection_dim=32),
        tokenizer_2=clip_tokenizer(),
        image_encoder=None,
        feature_extractor=None,
    )
    pipe.save_pretrained(path)
    return path


def build_flux(path: Path) -> Path:
    """Save a tiny FLUX pipeline under ``path``."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * 4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=CLIP_HIDDEN,
        axes_dims_rope=[4, 4, 8],
    ).eval()
    t5 = T5EncoderModel(
        T5Config(
            vocab_size=VOCAB_SIZE,
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            decoder_start_token_id=0,
            pad_token_id=0,
            eos_token_id=1,
        )
    ).eval()
    vae = _vae(
        latent_channels=4,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    pipe = FluxPipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=_clip_text_encoder(),
        tokenizer=clip_tokenizer(),
        text_encoder_2=t5,
        tokenizer_2=t5_tokenizer(),
    )
    pipe.save_pretrained(path)
    return path
