# Type hints of the public API of the ember package (see ember/llama.py for the docstrings).
from typing import Any, Dict, Iterator, List, Literal, Optional, Sequence, Union, overload

LLAMA_DEFAULT_SEED: int
__version__: str

class EmberError(RuntimeError):
    status: int
    def __init__(self, message: str, status: int = ...) -> None: ...

Completion = Dict[str, Any]
CompletionChunk = Dict[str, Any]
ChatCompletion = Dict[str, Any]
ChatCompletionChunk = Dict[str, Any]
Message = Dict[str, Any]

class Llama:
    model_path: str
    embedding: bool
    verbose: bool
    def __init__(self, model_path: str, *, n_ctx: int = ..., n_batch: int = ...,
                 n_threads: Optional[int] = ..., seed: int = ..., use_mmap: bool = ...,
                 embedding: bool = ..., verbose: bool = ..., numerics: str = ...,
                 **kwargs: Any) -> None: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Llama": ...
    def __exit__(self, *exc: Any) -> None: ...
    def n_ctx(self) -> int: ...
    def n_vocab(self) -> int: ...
    def n_embd(self) -> int: ...
    @property
    def numerics(self) -> str: ...
    def logits(self, tokens: Sequence[int]) -> List[float]: ...
    @property
    def metadata(self) -> Dict[str, str]: ...
    def tokenize(self, text: Union[bytes, str], add_bos: bool = ...,
                 special: bool = ...) -> List[int]: ...
    def detokenize(self, tokens: Sequence[int], prev_tokens: Optional[Sequence[int]] = ...,
                   special: bool = ...) -> bytes: ...
    def cancel(self) -> None: ...
    @overload
    def create_completion(self, prompt: Union[str, List[int]], suffix: Optional[str] = ...,
                          max_tokens: Optional[int] = ..., temperature: float = ...,
                          top_p: float = ..., min_p: float = ..., typical_p: float = ...,
                          logprobs: Optional[int] = ..., echo: bool = ...,
                          stop: Union[None, str, List[str]] = ...,
                          frequency_penalty: float = ..., presence_penalty: float = ...,
                          repeat_penalty: float = ..., top_k: int = ...,
                          stream: Literal[False] = ..., seed: Optional[int] = ...,
                          tfs_z: float = ..., mirostat_mode: int = ...,
                          mirostat_tau: float = ..., mirostat_eta: float = ...,
                          model: Optional[str] = ..., stopping_criteria: Any = ...,
                          logits_processor: Any = ..., grammar: Any = ...,
                          logit_bias: Optional[Dict[int, float]] = ...) -> Completion: ...
    @overload
    def create_completion(self, prompt: Union[str, List[int]], suffix: Optional[str] = ...,
                          max_tokens: Optional[int] = ..., temperature: float = ...,
                          top_p: float = ..., min_p: float = ..., typical_p: float = ...,
                          logprobs: Optional[int] = ..., echo: bool = ...,
                          stop: Union[None, str, List[str]] = ...,
                          frequency_penalty: float = ..., presence_penalty: float = ...,
                          repeat_penalty: float = ..., top_k: int = ...,
                          *, stream: Literal[True], seed: Optional[int] = ...,
                          tfs_z: float = ..., mirostat_mode: int = ...,
                          mirostat_tau: float = ..., mirostat_eta: float = ...,
                          model: Optional[str] = ..., stopping_criteria: Any = ...,
                          logits_processor: Any = ..., grammar: Any = ...,
                          logit_bias: Optional[Dict[int, float]] = ...
                          ) -> Iterator[CompletionChunk]: ...
    def __call__(self, prompt: Union[str, List[int]], **kwargs: Any
                 ) -> Union[Completion, Iterator[CompletionChunk]]: ...
    @overload
    def create_chat_completion(self, messages: List[Message],
                               functions: Optional[List[Any]] = ..., function_call: Any = ...,
                               tools: Optional[List[Dict[str, Any]]] = ...,
                               tool_choice: Union[None, str, Dict[str, Any]] = ...,
                               temperature: float = ..., top_p: float = ..., top_k: int = ...,
                               min_p: float = ..., typical_p: float = ...,
                               stream: Literal[False] = ...,
                               stop: Union[None, str, List[str]] = ...,
                               seed: Optional[int] = ...,
                               response_format: Optional[Dict[str, Any]] = ...,
                               max_tokens: Optional[int] = ..., presence_penalty: float = ...,
                               frequency_penalty: float = ..., repeat_penalty: float = ...,
                               tfs_z: float = ..., mirostat_mode: int = ...,
                               mirostat_tau: float = ..., mirostat_eta: float = ...,
                               model: Optional[str] = ..., logits_processor: Any = ...,
                               grammar: Any = ..., logit_bias: Optional[Dict[int, float]] = ...,
                               logprobs: Optional[bool] = ...,
                               top_logprobs: Optional[int] = ...) -> ChatCompletion: ...
    @overload
    def create_chat_completion(self, messages: List[Message],
                               functions: Optional[List[Any]] = ..., function_call: Any = ...,
                               tools: Optional[List[Dict[str, Any]]] = ...,
                               tool_choice: Union[None, str, Dict[str, Any]] = ...,
                               temperature: float = ..., top_p: float = ..., top_k: int = ...,
                               min_p: float = ..., typical_p: float = ...,
                               *, stream: Literal[True],
                               stop: Union[None, str, List[str]] = ...,
                               seed: Optional[int] = ...,
                               response_format: Optional[Dict[str, Any]] = ...,
                               max_tokens: Optional[int] = ..., presence_penalty: float = ...,
                               frequency_penalty: float = ..., repeat_penalty: float = ...,
                               tfs_z: float = ..., mirostat_mode: int = ...,
                               mirostat_tau: float = ..., mirostat_eta: float = ...,
                               model: Optional[str] = ..., logits_processor: Any = ...,
                               grammar: Any = ..., logit_bias: Optional[Dict[int, float]] = ...,
                               logprobs: Optional[bool] = ...,
                               top_logprobs: Optional[int] = ...
                               ) -> Iterator[ChatCompletionChunk]: ...
    def apply_chat_template(self, messages: List[Message],
                            tools: Optional[List[Dict[str, Any]]] = ...) -> str: ...
    def create_embedding(self, input: Union[str, List[str]],
                         model: Optional[str] = ...) -> Dict[str, Any]: ...
    def embed(self, input: Union[str, List[str]], normalize: bool = ..., truncate: bool = ...,
              return_count: bool = ...) -> Any: ...
