"""Tiny random-weight Bark and MusicGen models (plus processors) saved to a directory.

Bark keeps its real vocabulary sizes and the processor's 256-token padding (the
model's code assumes them) but is one layer deep and 16 wide; its generation
config holds small token limits because random weights never emit an end token.
Tokenizers are made here from hand-written vocabularies: nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

BARK_SEMANTIC_TOKENS = 16
MUSICGEN_SAMPLE_RATE = 32000


def bert_tokenizer(tmp: Path):
    """A BERT word-piece tokenizer over a few words and single letters."""
    from transformers import BertTokenizer

    words = ["hello", "world", "this", "is", "a", "test", "of", "reel", "the", "cat", "sat", "on", "mat"]
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *words, *(f"##{c}" for c in letters)]
    tmp.mkdir(parents=True, exist_ok=True)
    vocab_file = tmp / "vocab.txt"
    vocab_file.write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    return BertTokenizer(vocab_file=str(vocab_file), model_max_length=256)


def t5_tokenizer():
    """A T5 unigram tokenizer over single letters and digits."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    pieces += [("▁" + c, -2.5) for c in "abcdefghijklmnopqrstuvwxyz"]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=64)


def build_bark(path: Path) -> Path:
    """Save a tiny Bark model and processor under ``path``."""
    import torch
    from transformers import (
        BarkConfig,
        BarkModel,
        BarkProcessor,
        EncodecConfig,
        GenerationConfig,
    )
    from transformers.models.bark.generation_configuration_bark import (
        BarkCoarseGenerationConfig,
        BarkFineGenerationConfig,
        BarkSemanticGenerationConfig,
    )

    torch.manual_seed(0)
    sub = {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "block_size": 1024}
    config = BarkConfig(
        semantic_config={**sub, "input_vocab_size": 129600, "output_vocab_size": 10048},
        coarse_acoustics_config={**sub, "input_vocab_size": 12096, "output_vocab_size": 12096},
        fine_acoustics_config={
            **sub,
            "input_vocab_size": 1056,
            "output_vocab_size": 1056,
            "n_codes_total": 8,
            "n_codes_given": 1,
        },
        codec_config=EncodecConfig(
            sampling_rate=24000,
            hidden_size=8,
            num_filters=4,
            num_lstm_layers=1,
            codebook_size=1024,
            codebook_dim=8,
            upsampling_ratios=[8, 5, 4, 2],
            target_bandwidths=[1.5, 3.0, 6.0],
        ).to_dict(),
    )
    model = BarkModel(config).eval()
    # A plain GenerationConfig carrying the three sub-configs (a BarkGenerationConfig fails to save).
    model.generation_config = GenerationConfig(
        semantic_config=BarkSemanticGenerationConfig(max_new_tokens=BARK_SEMANTIC_TOKENS).to_dict(),
        coarse_acoustics_config=BarkCoarseGenerationConfig(sliding_window_len=24).to_dict(),
        fine_acoustics_config=BarkFineGenerationConfig().to_dict(),
        sample_rate=24000,
        codebook_size=1024,
    )
    model.save_pretrained(path)
    BarkProcessor(tokenizer=bert_tokenizer(path.with_name(path.name + "-vocab"))).save_pretrained(path)
    return path


def build_musicgen(path: Path) -> Path:
    """Save a tiny MusicGen model and processor under ``path``."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    torch.manual_seed(0)
    codebook_size = 64
    config = MusicgenConfig(
        text_encoder=T5Config(
            vocab_size=100,
            d_model=16,
            d_kv=4,
            d_ff=32,
            num_layers=1,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        ).to_dict(),
        audio_encoder=EncodecConfig(
            sampling_rate=MUSICGEN_SAMPLE_RATE,
            hidden_size=8,
            num_filters=4,
            num_lstm_layers=1,
            codebook_size=codebook_size,
            codebook_dim=8,
            upsampling_ratios=[8, 5, 4, 4],
            target_bandwidths=[1.2],  # 4 codebooks at 50 Hz x 6 bits
        ).to_dict(),
        decoder=MusicgenDecoderConfig(
            vocab_size=codebook_size,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            ffn_dim=32,
            num_codebooks=4,
            pad_token_id=codebook_size,
            bos_token_id=codebook_size,
            max_position_embeddings=512,
        ).to_dict(),
    )
    model = MusicgenForConditionalGeneration(config).eval()
    gen = model.generation_config
    gen.decoder_start_token_id = codebook_size
    gen.pad_token_id = codebook_size
    gen.do_sample = True
    gen.guidance_scale = 3.0
    gen.max_length = 256
    model.save_pretrained(path)
    MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(sampling_rate=MUSICGEN_SAMPLE_RATE),
        tokenizer=t5_tokenizer(),
    ).save_pretrained(path)
    return path
