{#-
    Score rows with a Gaussian naive Bayes model stored in long form (one row per
    class and feature, as training.export_gaussian_nb writes it). Classes,
    features and transforms are read from the parameters at execution time, so a
    retrained model with other classes or features scores with no SQL edit.
-#}

{% macro gaussian_nb_score(features, key_columns, params, label_column='predicted_label', probability_prefix='p_') -%}
    {{ return(adapter.dispatch('gaussian_nb_score', 'image_quality')(features, key_columns, params, label_column, probability_prefix)) }}
{%- endmacro %}

{% macro default__gaussian_nb_score(features, key_columns, params, label_column, probability_prefix) -%}
{#- The model's parameters are read when dbt executes and written into the SQL
    as exact double literals (their shortest round-trip text), so scoring is
    row-wise arithmetic: no unpivot, join, group or window, whatever the number
    of rows. -#}
{%- set model = image_quality.gaussian_nb_model(params) -%}
{%- set keys = key_columns | join(', ') -%}
{%- set classes = model.classes -%}
with scored_rows as (
    -- a row lacking any feature cannot be scored (scikit-learn would refuse it too)
    select
        {{ keys }},
        {% for feature in model.features -%}
        {{ image_quality.feature_transform(model.transforms[feature], feature) }} as {{ feature }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ features }}
    where
        {% for feature in model.features -%}
        {{ feature }} is not null{{ ' and' if not loop.last }}
        {% endfor %}
),

joint_log_likelihood as (
    -- per class: ln(prior) - 0.5 * sum ln(2 pi var) - 0.5 * sum (x - theta)^2 / var,
    -- as GaussianNB._joint_log_likelihood
    select
        {{ keys }},
        {% for class_label in classes -%}
        ln({{ image_quality.nb_literal(model.priors[class_label]) }})
            {% for feature in model.features -%}
            {%- set p = model.parameters[class_label][feature] %}
            - 0.5 * ln(2 * {{ image_quality.nb_literal('3.141592653589793') }} * {{ image_quality.nb_literal(p.var) }})
            - 0.5 * ({{ feature }} - {{ image_quality.nb_literal(p.theta) }}) * ({{ feature }} - {{ image_quality.nb_literal(p.theta) }}) / {{ image_quality.nb_literal(p.var) }}
            {%- endfor %} as jll_{{ class_label }}{{ ',' if not loop.last }}
        {% endfor %}
    from scored_rows
),

shifted as (
    -- subtracting the row's largest jll keeps exp() finite whatever the magnitudes
    select
        {{ keys }},
        {% for class_label in classes -%}
        jll_{{ class_label }},
        {% endfor -%}
        {% if classes | length > 1 -%}
        greatest({% for class_label in classes %}jll_{{ class_label }}{{ ', ' if not loop.last }}{% endfor %})
        {%- else -%}
        jll_{{ classes[0] }}
        {%- endif %} as max_jll
    from joint_log_likelihood
),

exponentiated as (
    select
        {{ keys }},
        {% for class_label in classes -%}
        jll_{{ class_label }},
        {% endfor -%}
        max_jll,
        {% for class_label in classes -%}
        exp(jll_{{ class_label }} - max_jll) as e_{{ class_label }}{{ ',' if not loop.last }}
        {% endfor %}
    from shifted
),

final as (
    select
        -- keys
        {{ keys }},
        -- prediction: argmax, ties to the lowest class_index as numpy's argmax
        '{{ model.model_versions[0] }}' as model_version,
        case
            {% for class_label in classes -%}
            when jll_{{ class_label }} = max_jll then '{{ class_label }}'
            {% endfor -%}
        end as {{ label_column }},
        -- one probability per class
        {% for class_label in classes -%}
        e_{{ class_label }} / ({% for other in classes %}e_{{ other }}{{ ' + ' if not loop.last }}{% endfor %}) as {{ probability_prefix ~ class_label }}{{ ',' if not loop.last }}
        {% endfor %}
    from exponentiated
)

select * from final
{%- endmacro %}


{#- A double precision literal from its exact text (shortest round-trip digits). -#}
{% macro nb_literal(text) -%}
    cast('{{ text }}' as double)
{%- endmacro %}


{#-
    The shape of the model in a parameters relation: its classes (by
    class_index), features (by name) and each feature's transform.
    Reads the relation when dbt executes; at parse time returns an empty model.
-#}

{% macro gaussian_nb_model(params) -%}
    {{ return(adapter.dispatch('gaussian_nb_model', 'image_quality')(params)) }}
{%- endmacro %}

{% macro default__gaussian_nb_model(params) -%}
    {%- set model = {'classes': [], 'features': [], 'transforms': {}, 'model_versions': [],
                     'priors': {}, 'parameters': {}} -%}
    {%- if not execute -%}
        {{ return(model) }}
    {%- endif -%}
    {%- set sql -%}
        select distinct
            model_version, class_index, class_label, feature, feature_transform,
            cast(cast(class_prior as double) as {{ dbt.type_string() }}) as class_prior_text,
            cast(cast(theta as double) as {{ dbt.type_string() }}) as theta_text,
            cast(cast(var as double) as {{ dbt.type_string() }}) as var_text
        from {{ params }}
        order by class_index, feature
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- set identifier = modules.re.compile('^[a-z_][a-z0-9_]*$') -%}
    {%- for row in rows -%}
        {%- if row['model_version'] not in model.model_versions -%}
            {%- do model.model_versions.append(row['model_version']) -%}
        {%- endif -%}
        {%- if row['class_label'] not in model.classes -%}
            {%- do model.classes.append(row['class_label']) -%}
            {%- do model.parameters.update({row['class_label']: {}}) -%}
        {%- endif -%}
        {%- do model.priors.update({row['class_label']: row['class_prior_text']}) -%}
        {%- do model.parameters[row['class_label']].update(
            {row['feature']: {'theta': row['theta_text'], 'var': row['var_text']}}) -%}
        {%- if row['feature'] not in model.features -%}
            {%- do model.features.append(row['feature']) -%}
            {%- do model.transforms.update({row['feature']: row['feature_transform']}) -%}
        {%- elif model.transforms[row['feature']] != row['feature_transform'] -%}
            {{ exceptions.raise_compiler_error("feature " ~ row['feature'] ~ " has two transforms in " ~ params) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if model.model_versions | length != 1 -%}
        {{ exceptions.raise_compiler_error(params ~ " must hold exactly one model_version, found " ~ (model.model_versions | length)) }}
    {%- endif -%}
    {%- for name in model.classes + model.features -%}
        {%- if not identifier.match(name) -%}
            {{ exceptions.raise_compiler_error("class and feature names must be lower-case SQL identifiers: " ~ name) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if rows | length != (model.classes | length) * (model.features | length) -%}
        {{ exceptions.raise_compiler_error(params ~ " must hold one row per class and feature") }}
    {%- endif -%}
    {{ return(model) }}
{%- endmacro %}
