"""Measure which public PyTorch names disttorch lacks.

Run ``python tools/api_coverage.py [--list]`` (torch must be installed: it is the reference).
For each namespace it counts the public PyTorch names that are in scope, how many disttorch has,
and (with ``--list``) names the missing ones. ``torch.fft`` is reported but not counted in the
total: its transforms are forward-only (disttorch has no complex autograd yet).

What is out of scope is listed in ``EXCLUDED_PATTERNS`` (regular expressions over the bare name)
and ``EXCLUDED_NAMES``, each group with the reason; a name is in scope otherwise.
"""
import argparse
import importlib
import inspect
import re
import sys

EXCLUDED_PATTERNS = {
    # Private and dunder names are not public API.
    "private": [r"^_"],
    # Quantization: no int8 kernels or observers in a numpy/CuPy framework.
    "quantization": [r"quant", r"^q_", r"^int_repr$", r"^fake_", r"^fbgemm", r"per_channel",
                     r"^dequantize$", r"^q[a-z]+_"],
    # Sparse layouts (COO/CSR/BSR...): dense arrays only.
    "sparse": [r"sparse", r"^to_dense$", r"^(ccol|crow|row|col)_indices$", r"^coalesce$",
               r"^is_coalesced$", r"^indices$", r"^values$", r"^smm$", r"^sspaddmm$", r"^hspmm$",
               r"^dense_dim$", r"^sparse_dim$", r"^(to|from)_mkldnn", r"mkldnn", r"^nnz$",
               r"^_nnz$", r"bsr|bsc|csr|csc"],
    # Compilers, tracers and exporters: jit/fx/compile/onnx/export are shimmed, not covered.
    "compilers": [r"^jit$", r"^fx$", r"^onnx$", r"^export$", r"^compiler$", r"^_dynamo",
                  r"^(is_)?compil", r"^func$", r"script", r"^trace", r"^Graph",
                  r"^(un)?set_flush_denormal$", r"^Future$", r"^wait$", r"^fork$"],
    # Backend/runtime internals and other device types.
    "backends": [r"^backends$", r"cudnn", r"miopen", r"mkl", r"^mps", r"xpu", r"^mtia", r"hpu",
                 r"^xla", r"^ipu", r"^ve$", r"vulkan", r"metal", r"openmp", r"^(is_)?vitals?",
                 r"^set_vital", r"^read_vitals", r"nnpack", r"^native_", r"^batch_norm_",
                 r"^cpp$", r"autocast", r"privateuse", r"^meta",
                 r"^is_(ipu|maia|mtia|xla|nested)$", r"^to_padded_tensor$", r"^nonzero_static$",
                 r"^(const_)?data_ptr$", r"^slice_inverse$", r"^(reinforce|volatile)$",
                 r"^rename_privateuse1", r"^(get|set)_default_device$",
                 r"^(get|set)_device_module", r"^accelerator$",
                 r"^sym_", r"^Sym", r"^(is|set)_anomaly", r"^(is_)?conj", r"^resolve_",
                 r"^(is|set)_grad", r"^has_", r"^(is_)?distributed$", r"^cuda$", r"^amp$",
                 r"^cpu$", r"^mps$", r"^fft$", r"^linalg$", r"^special$", r"^nn$", r"^optim$",
                 r"^utils$", r"^autograd$", r"^testing$", r"^hub$", r"^library$", r"^ops$",
                 r"^overrides$", r"^package$", r"^profiler$", r"^masked$", r"^nested",
                 r"^return_types$", r"^types$", r"^version$", r"^storage$", r"^functional$",
                 r"^multiprocessing$", r"^random$", r"^serialization$", r"^signal$",
                 r"^futures$", r"^monitor$", r"^hub$", r"^contrib$", r"^torch_version$",
                 r"^overrides$", r"^mps$", r"^xpu$", r"^lib$", r"^ao$", r"^sparse$",
                 r"^distributions$", r"^_C$", r"^(cond|while_loop|associative_scan)$",
                 ],
    # Storage and memory-format internals.
    "storage": [r"Storage$", r"storage", r"^(is_)?pinned?", r"^pin_memory$", r"^share_memory",
                r"^is_shared$", r"^from_file$", r"^data_ptr$", r"^untyped", r"^TypedStorage",
                r"^set_$", r"^record_stream$", r"^(is_)?set_to$", r"^module_load$",
                r"^__cuda_array_interface__$", r"^__dlpack", r"dlpack",
                r"^is_nonzero$", r"^new$", r"^map2?_$", r"^ipc_"],
    # Named tensors.
    "named tensors": [r"^(align|refine|rename)", r"^names$", r"^has_names$", r"^unflatten_names",
                      r"^align_as$"],
    # Complex-only internals (real and imag views of complex tensors are covered separately).
    "complex internals": [r"^(view_as_complex|view_as_real)_copy$",
                          r"^is_neg$", r"^_?neg_view", r"^resolve_neg$",
                          r"^(conj|real|imag)_physical", r"^adjoint$"],
    # *_copy aliases of view ops exist for functionalization passes, not users.
    "functionalization": [r"_copy$", r"^(alias|lift)", r"_scatter$", r"^fill_uniform",
                          r"^(index|embedding)_renorm", r"_out$", r"^fused_", r"^(segment|mvlgamma)_",
                          r"^(is_)?same_size$", r"^is_vulkan", r"^rrelu_with_noise",
                          r"^rnn_(tanh|relu)(_cell)?$", r"^(lstm|gru)(_cell)?$",
                          r"^quantized_(lstm|gru|rnn)", r"_backward$", r"^prepare_",
                          r"^(get|set)_file_path$", r"^choose_qparams",
                          r"^ctc_loss$", r"^constant_pad_nd$", r"^convolution$",
                          r"^conv_(tbc|transpose[123]d)$", r"^(thnn|cudnn|miopen)_"],
    # TorchScript IR and runtime classes exposed at top level (``torch.AnyType``, ``torch.Block``).
    "jit IR types": [r"[a-z]Type$", r"^Script", r"^(AliasDb|Argument|ArgumentSpec|Block|CallStack|"
                     r"Capsule|Code|CompilationUnit|CompleteArgumentSpec|ConcreteModuleType|"
                     r"ConcreteModuleTypeBuilder|DeepCopyMemoTable|DeserializationStorageContext|"
                     r"ErrorReport|ExecutionPlan|FileCheck|FunctionSchema|Gradient|InferredType|"
                     r"JITException|LiteScriptModule|LockingLogger|LoggerBase|NoopLogger|Node|"
                     r"OperatorInfo|PyTorchFile(Reader|Writer)|SerializationStorageContext|"
                     r"StaticModule|Tag|TracingState|Type|Use|Value|AggregationType|"
                     r"BenchmarkConfig|BenchmarkExecutionStats|DispatchKey|DispatchKeySet|"
                     r"ExcludeDispatchKeyGuard|DisableTorchFunction(Subclass)?|FatalError|"
                     r"AcceleratorError)$",
                     r"^(import_ir_module|parse_ir|parse_schema|parse_type_comment|"
                     r"merge_type_from_type_comment|unify_type_list|import_ir_module_from_buffer|"
                     r"profiler_allow_cudagraph|init_num_threads|hash_tensor|thread_safe_generator)",
                     r"^(assert_int_or_pair|boolean_dispatch|handle_torch_function|DType|"
                     r"ScalingType|SwizzleType)$", r"grouped_mm$", r"^scaled_mm$"],
    # Module classes that are wrappers for other runtimes or deprecated.
    "nn internals": [r"^(Quantized|Container$)", r"^(Parameter|Buffer|UninitializedParameter|"
                     r"UninitializedBuffer)$", r"^parameter$", r"^modules$", r"^parallel$",
                     r"^common_types$", r"^grad$", r"^init$", r"^factory_kwargs$", r"^intrinsic"],
}

EXCLUDED_NAMES = {
    # Deprecated aliases PyTorch keeps for old scripts.
    "deprecated": {"chain_matmul", "matrix_rank", "lstsq", "solve", "symeig", "eig", "qr",
                   "pstrf", "potrf", "potri", "potrs", "trtrs", "gels", "ger", "orgqr", "lu_solve", "lu_unpack", "lu",
                   "norm_except_dim", "batch_norm_elemt", "batch_norm_stats",
                   "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
                   "batch_norm_update_stats", "batch_norm_backward_reduce",
                   "batch_norm_backward_elemt", "sigmoid_focal_loss", "clear_autocast_cache",
                   "upsample", "upsample_bilinear", "upsample_nearest", "feature_alpha_dropout",
                   "affine_grid_generator", "get_file_path", "set_file_path",
                   "legacy_contiguous_format", "obj", "classproperty", "builtins", "math",
                   "annotate", "Any", "Callable", "Optional", "Union", "TypeVar", "Tuple",
                   "List", "Dict", "TYPE_CHECKING", "overload", "Generic", "ParamSpec"},
}


# TorchScript's containers also sit at ``torch.ModuleDict`` etc.; ``torch.nn``'s are counted there.
EXCLUDED_TOP_LEVEL = {"BufferDict", "ParameterDict", "ModuleDict"}


def _excluded(name):
    for patterns in EXCLUDED_PATTERNS.values():
        if any(re.search(p, name) for p in patterns):
            return True
    return any(name in names for names in EXCLUDED_NAMES.values())


def _public(obj, predicate):
    names = set()
    for name in dir(obj):
        if _excluded(name):
            continue
        try:
            value = getattr(obj, name)
        except Exception:  # some torch attributes raise on access (deprecated shims)
            continue
        if predicate(name, value):
            names.add(name)
    return names


def _is_callable(name, value):
    return callable(value) and not inspect.ismodule(value)


def _is_function(name, value):
    # sub-namespaces re-export classes such as ``Tensor``: only their functions are API
    return _is_callable(name, value) and not inspect.isclass(value)


def _is_tensor_api(name, value):
    return True


def _is_module_class(torch):
    def predicate(name, value):
        return inspect.isclass(value) and issubclass(value, torch.nn.Module)
    return predicate


def _is_subclass_of(base_of):
    def predicate(name, value):
        base = base_of()
        return inspect.isclass(value) and issubclass(value, base) and value is not base
    return predicate


def _is_distribution_api(torch):
    def predicate(name, value):
        if inspect.isclass(value):
            return issubclass(value, (torch.distributions.Distribution,
                                      torch.distributions.transforms.Transform))
        return inspect.isfunction(value)
    return predicate


def _defined_in(module_name):
    """Functions and classes the namespace itself defines (not the typing names it imports)."""
    def predicate(name, value):
        return (inspect.isfunction(value) or inspect.isclass(value)) and \
            getattr(value, "__module__", None) == module_name
    return predicate


def _has(namespace, name):
    try:
        return hasattr(namespace, name)
    except Exception:  # a lazily loaded disttorch submodule that fails to import counts as absent
        return False


def _namespaces(torch, disttorch):
    def load(module, attr):
        try:
            return importlib.import_module(f"{module.__name__}.{attr}")
        except ImportError:
            return None

    return [
        ("torch", torch, disttorch, _is_callable, True),
        ("torch.Tensor", torch.Tensor, disttorch.Tensor, _is_tensor_api, True),
        ("torch.nn.functional", torch.nn.functional, load(disttorch, "nn.functional"),
         _is_function, True),
        ("torch.nn (modules)", torch.nn, load(disttorch, "nn"), _is_module_class(torch), True),
        ("torch.linalg", torch.linalg, load(disttorch, "linalg"), _is_function, True),
        ("torch.special", torch.special, load(disttorch, "special"), _is_function, True),
        ("torch.nn.utils", torch.nn.utils, load(disttorch, "nn.utils"), _is_function, True),
        ("torch.autograd.functional", torch.autograd.functional,
         load(disttorch, "autograd.functional"), _is_function, True),
        ("torch.optim", torch.optim, load(disttorch, "optim"),
         _is_subclass_of(lambda: torch.optim.Optimizer), True),
        ("torch.optim.lr_scheduler", torch.optim.lr_scheduler,
         load(disttorch, "optim.lr_scheduler"),
         _is_subclass_of(lambda: torch.optim.lr_scheduler.LRScheduler), True),
        ("torch.distributions", torch.distributions, load(disttorch, "distributions"),
         _is_distribution_api(torch), True),
        ("torch.func", torch.func, load(disttorch, "func"), _is_function, True),
        ("torch.autograd.graph", torch.autograd.graph, load(disttorch, "autograd.graph"),
         _defined_in("torch.autograd.graph"), True),
        ("torch.fft", torch.fft, load(disttorch, "fft"), _is_function, False),
    ]


def measure(torch, disttorch):
    """Return ``[(namespace, counted, in_scope_names, missing_names)]``."""
    rows = []
    for label, ref, ours, predicate, counted in _namespaces(torch, disttorch):
        names = _public(ref, predicate)
        if ref is torch:
            names -= EXCLUDED_TOP_LEVEL
        missing = sorted(n for n in names if ours is None or not _has(ours, n))
        rows.append((label, counted, sorted(names), missing))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="name every missing symbol")
    args = parser.parse_args(argv)
    import torch
    import disttorch
    rows = measure(torch, disttorch)
    total = have = 0
    print(f"PyTorch {torch.__version__} vs disttorch {disttorch.__version__}")
    print(f"{'namespace':<26}{'in scope':>9}{'present':>9}{'missing':>9}{'coverage':>10}")
    for label, counted, names, missing in rows:
        present = len(names) - len(missing)
        note = "" if counted else "  (report only)"
        pct = 100.0 * present / len(names) if names else 100.0
        print(f"{label:<26}{len(names):>9}{present:>9}{len(missing):>9}{pct:>9.1f}%{note}")
        if counted:
            total += len(names)
            have += present
    print(f"{'total (counted)':<26}{total:>9}{have:>9}{total - have:>9}{100.0 * have / total:>9.1f}%")
    if args.list:
        for label, _, _, missing in rows:
            if missing:
                print(f"\nmissing from {label} ({len(missing)}):")
                print("  " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
